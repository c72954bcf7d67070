// RtpPacket: a checked, non-owning view of one RTP packet (RFC 3550 §5.1) with its
// header extensions (RFC 8285 one-byte and two-byte forms).
//
// parse() checks every length the packet states against the bytes it has: CSRC count,
// extension length, padding count. A packet that lies about its size is rejected with
// the reason, never read past its end. A packet whose payload is empty after padding
// (a padding-only probe) parses, with an empty payload; the receiver drops it.
//
// The view borrows the bytes it was parsed from; they must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace callrec::ingest {

enum class RtpParseError {
  kTooShort,          // fewer than 12 bytes, or the CSRC list does not fit
  kBadVersion,        // version is not 2
  kBadExtension,      // the extension header or its elements run past the packet
  kBadPadding,        // padding count 0 or larger than what follows the header
};
const char* to_string(RtpParseError error);

class RtpPacket {
 public:
  // The packet, or why it is not one. `error` may be null.
  static std::optional<RtpPacket> parse(std::span<const uint8_t> data, RtpParseError* error = nullptr);

  // RFC 5761 §4: on a muxed port, RTCP packet types 192-223 are never RTP payload types.
  static bool looks_like_rtcp(std::span<const uint8_t> data);

  uint8_t payload_type() const { return payload_type_; }
  bool marker() const { return marker_; }
  uint16_t sequence_number() const { return sequence_number_; }
  uint32_t timestamp() const { return timestamp_; }
  uint32_t ssrc() const { return ssrc_; }
  std::span<const uint8_t> payload() const { return payload_; }
  size_t padding_bytes() const { return padding_bytes_; }
  // The whole packet as parsed.
  std::span<const uint8_t> bytes() const { return bytes_; }

  // The data of header extension element `id` (1-14 one-byte form, 1-255 two-byte
  // form), when present. Element lengths were checked by parse().
  std::optional<std::span<const uint8_t>> extension(int id) const;

 private:
  RtpPacket() = default;

  std::span<const uint8_t> bytes_;
  std::span<const uint8_t> payload_;
  std::span<const uint8_t> extension_data_;  // the elements, after the 4-byte header
  uint16_t extension_profile_ = 0;           // 0xBEDE or 0x100X; 0: none
  size_t padding_bytes_ = 0;
  uint8_t payload_type_ = 0;
  bool marker_ = false;
  uint16_t sequence_number_ = 0;
  uint32_t timestamp_ = 0;
  uint32_t ssrc_ = 0;
};

// Writes a minimal RTP packet (no CSRC) into `out`: for tests, fuzz seeds and relays.
// `extensions` is a list of (id, data) written in the one-byte form (ids 1-14, 1-16 bytes).
struct RtpHeaderFields {
  uint8_t payload_type = 96;
  bool marker = false;
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
};
void write_rtp_packet(const RtpHeaderFields& header, std::span<const uint8_t> payload, std::span<uint8_t> out,
                      size_t& written,
                      std::span<const std::pair<int, std::span<const uint8_t>>> extensions = {});

}  // namespace callrec::ingest
