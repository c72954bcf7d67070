// The RTCP packets callrec reads and writes, one struct each (RFC 3550 §6.4, RFC 4585
// §6.3.1), mediasoup-style: parse() takes one RTCP packet (its 4-byte header included,
// as RtcpCompound splits them) and checks every stated length; serialize() writes the
// packet and returns its size (0 when `out` is too small).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace callrec::ingest {

enum class RtcpType : uint8_t {
  kSenderReport = 200,
  kReceiverReport = 201,
  kSourceDescription = 202,
  kBye = 203,
  kApp = 204,
  kTransportFeedback = 205,
  kPayloadFeedback = 206,
  kExtendedReport = 207,
};

// NTP timestamp: 32.32 fixed-point seconds (RFC 3550 §4).
struct NtpTime {
  uint64_t value = 0;
  // Microseconds since the NTP epoch (1900). Only differences matter to callrec.
  int64_t us() const;
  static NtpTime from_us(int64_t us);
  // The middle 32 bits, as report blocks quote them (LSR).
  uint32_t compact() const { return static_cast<uint32_t>(value >> 16); }
};

// One reception report block (24 bytes).
struct ReportBlock {
  static constexpr size_t kSize = 24;
  uint32_t ssrc = 0;
  uint8_t fraction_lost = 0;            // of packets expected since the last report, /256
  int32_t cumulative_lost = 0;          // 24-bit signed on the wire
  uint32_t extended_highest_sequence = 0;
  uint32_t jitter = 0;                  // RTP timestamp units
  uint32_t last_sr = 0;                 // NtpTime::compact() of the last SR, 0: none
  uint32_t delay_since_last_sr = 0;     // 1/65536 s

  static ReportBlock parse(const uint8_t* data);  // caller checked kSize bytes
  void serialize(uint8_t* out) const;
};

struct SenderReport {
  uint32_t ssrc = 0;
  NtpTime ntp;
  uint32_t rtp_timestamp = 0;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;
  std::vector<ReportBlock> blocks;

  static std::optional<SenderReport> parse(std::span<const uint8_t> packet);
  size_t serialize(std::span<uint8_t> out) const;
};

struct ReceiverReport {
  uint32_t ssrc = 0;  // of the reporter
  std::vector<ReportBlock> blocks;  // at most 31

  static std::optional<ReceiverReport> parse(std::span<const uint8_t> packet);
  size_t serialize(std::span<uint8_t> out) const;
};

// Picture Loss Indication: payload-specific feedback, FMT 1, no FCI.
struct FeedbackPli {
  static constexpr size_t kSize = 12;
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;

  static std::optional<FeedbackPli> parse(std::span<const uint8_t> packet);
  size_t serialize(std::span<uint8_t> out) const;
};

// BYE: the sources that leave.
struct Bye {
  std::vector<uint32_t> ssrcs;
  static std::optional<Bye> parse(std::span<const uint8_t> packet);
};

// Source description with one CNAME item (RFC 3550 §6.5): compound packets must carry one.
size_t serialize_sdes_cname(uint32_t ssrc, std::string_view cname, std::span<uint8_t> out);

}  // namespace callrec::ingest
