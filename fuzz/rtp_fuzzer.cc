// libFuzzer: one datagram as an RTP packet (RtpPacket::parse, its header extensions)
// and its payload as the payload formats read it (Opus TOC, VP8 descriptor), and the
// muxed-port RTCP test.
#include <cstddef>
#include <cstdint>
#include <span>

#include "callrec/ingest/opus_depacketizer.h"
#include "callrec/ingest/rtp_packet.h"
#include "callrec/ingest/vp8_depacketizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace callrec::ingest;
  const std::span<const uint8_t> bytes(data, size);
  (void)RtpPacket::looks_like_rtcp(bytes);
  RtpParseError error{};
  const auto packet = RtpPacket::parse(bytes, &error);
  if (!packet) return 0;
  const auto payload = packet->payload();
  // The payload lies within the datagram.
  if (!payload.empty() && (payload.data() < data || payload.data() + payload.size() > data + size)) __builtin_trap();
  for (int id = 0; id <= 256; ++id) {
    if (const auto ext = packet->extension(id)) {
      if (!ext->empty() && (ext->data() < data || ext->data() + ext->size() > data + size)) __builtin_trap();
    }
  }
  (void)OpusDepacketizer::duration_48k(payload);
  if (const auto d = Vp8Descriptor::parse(payload); d && d->size > payload.size()) __builtin_trap();
  return 0;
}
