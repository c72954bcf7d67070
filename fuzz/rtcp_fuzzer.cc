// libFuzzer: one datagram as an RTCP compound packet (RtcpCompound::parse). What parses
// must serialize and parse back to the same reports.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "callrec/ingest/rtcp_compound.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace callrec::ingest;
  const auto compound = RtcpCompound::parse(std::span<const uint8_t>(data, size));
  if (!compound) return 0;
  std::vector<uint8_t> out(2048);
  for (const SenderReport& sr : compound->sender_reports) {
    const size_t n = sr.serialize(out);
    if (n == 0) continue;
    const auto again = SenderReport::parse(std::span<const uint8_t>(out.data(), n));
    if (!again || again->ssrc != sr.ssrc || again->rtp_timestamp != sr.rtp_timestamp ||
        again->ntp.value != sr.ntp.value || again->blocks.size() != std::min<size_t>(sr.blocks.size(), 31))
      __builtin_trap();
  }
  for (const ReceiverReport& rr : compound->receiver_reports) {
    const size_t n = rr.serialize(out);
    const auto again = ReceiverReport::parse(std::span<const uint8_t>(out.data(), n));
    if (!again || again->blocks.size() != rr.blocks.size()) __builtin_trap();
    for (size_t i = 0; i < rr.blocks.size(); ++i)
      if (again->blocks[i].cumulative_lost != rr.blocks[i].cumulative_lost ||
          again->blocks[i].extended_highest_sequence != rr.blocks[i].extended_highest_sequence)
        __builtin_trap();
  }
  return 0;
}
