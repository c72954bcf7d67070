// libFuzzer: arbitrary datagram sequences into a ParticipantReceiver (Opus with the
// audio-level extension, VP8, and H.264 with rtcp-mux) in virtual time: the source
// check, SSRC choice, reordering, depacketizers, key frame gate, layer filter, sender
// reports, lip sync and the RTCP it writes.
//
// Input: records of [select u8][delta_ms u8][length u16 BE][length bytes of datagram].
// select: bits 0-1 stream (3 = timer only), bit 2 RTCP port, bits 3-4 which source
// address, bit 5 the consumer asks for a key frame.
#include <cstddef>
#include <cstdint>
#include <span>

#include "callrec/ingest/participant_receiver.h"
#include "callrec/ingest/rtcp_compound.h"

namespace {
using namespace callrec::ingest;

struct CheckingSink : MediaSink {
  void on_audio(const AudioPacket& p) override {
    if (p.payload.empty() || p.duration_48k <= 0 || p.packets_lost_before < 0 || p.silence_before_48k < 0)
      __builtin_trap();
  }
  void on_video(const VideoFrame& f) override {
    if (f.data.empty()) __builtin_trap();
  }
};

struct CheckingRtcp : RtcpSender {
  void send_rtcp(int, std::span<const uint8_t> packet, const SourceAddress&) override {
    if (!RtcpCompound::parse(packet)) __builtin_trap();  // what we write must be valid
  }
};

ParticipantMedia media() {
  StreamDescription audio;
  audio.kind = MediaKind::kAudio;
  audio.rtp_port = 5000;
  audio.audio_level_extension_id = 1;
  audio.formats = {PayloadFormat{.payload_type = 111, .codec = Codec::kOpus, .clock_rate_hz = 48000, .channels = 2}};
  StreamDescription vp8;
  vp8.kind = MediaKind::kVideo;
  vp8.rtp_port = 5002;
  vp8.formats = {PayloadFormat{.payload_type = 96, .codec = Codec::kVp8, .clock_rate_hz = 90000}};
  StreamDescription h264;
  h264.kind = MediaKind::kVideo;
  h264.rtp_port = 5004;
  h264.rtcp_mux = true;
  h264.formats = {PayloadFormat{.payload_type = 102, .codec = Codec::kH264, .clock_rate_hz = 90000,
                                .packetization_mode = 1,
                                .parameter_sets = {{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00}, {0x68, 0xcb, 0x83, 0xcb, 0x20}}}};
  return ParticipantMedia{{audio, vp8, h264}};
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckingSink sink;
  CheckingRtcp rtcp;
  ParticipantReceiver receiver(media(), sink, rtcp, ReceiverConfig{.reorder_capacity = 64});
  const SourceAddress sources[4] = {SourceAddress::ipv4(127, 0, 0, 1, 40000), SourceAddress::ipv4(127, 0, 0, 1, 40001),
                                    SourceAddress::ipv4(127, 0, 0, 2, 40000), SourceAddress::ipv4(10, 0, 0, 1, 9)};
  int64_t now_us = 1'000'000;
  size_t at = 0;
  while (at + 4 <= size) {
    const uint8_t select = data[at];
    now_us += int64_t{data[at + 1]} * 1000;
    size_t length = static_cast<size_t>((data[at + 2] << 8) | data[at + 3]);
    at += 4;
    length = std::min(length, size - at);
    const int stream = select & 3;
    if (stream < 3) {
      receiver.on_datagram(stream, (select & 4) ? Channel::kRtcp : Channel::kRtp,
                           std::span<const uint8_t>(data + at, length), sources[(select >> 3) & 3], now_us);
    }
    if (select & 0x20) receiver.request_keyframe(stream % 3, now_us);
    at += length;
    receiver.on_timer(now_us);
  }
  receiver.on_timer(now_us + 10'000'000);
  return 0;
}
