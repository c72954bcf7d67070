// OpusDepacketizer: RFC 7587 carries one Opus packet per RTP payload; this reads its
// TOC (RFC 6716 §3.1) to learn its duration and rejects payloads that are not a valid
// Opus packet framing (empty, a code-3 packet without its frame count, more than
// 120 ms). The bytes go downstream untouched: libopus in the mixer decodes and conceals.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace callrec::ingest {

class OpusDepacketizer {
 public:
  // Samples at 48 kHz the packet holds, or nullopt when it is not a valid Opus packet.
  static std::optional<int> duration_48k(std::span<const uint8_t> payload);
};

}  // namespace callrec::ingest
