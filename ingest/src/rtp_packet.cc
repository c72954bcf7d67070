#include "callrec/ingest/rtp_packet.h"

#include <algorithm>
#include <cstring>

#include "byte_io.h"
#include "callrec/core/error.h"

namespace callrec::ingest {
namespace {
constexpr size_t kFixedHeaderBytes = 12;
constexpr uint16_t kOneByteProfile = 0xBEDE;
constexpr uint16_t kTwoByteProfileMask = 0xFFF0;
constexpr uint16_t kTwoByteProfile = 0x1000;

// Walks the extension elements, calling visit(id, data) for each; false when an element
// runs past the end (RFC 8285 §4.2, §4.3: padding bytes of 0 between elements).
template <typename Visit>
bool walk_extensions(uint16_t profile, std::span<const uint8_t> data, Visit&& visit) {
  size_t at = 0;
  const bool one_byte = profile == kOneByteProfile;
  while (at < data.size()) {
    const uint8_t first = data[at];
    if (first == 0) {  // padding
      ++at;
      continue;
    }
    size_t id = 0;
    size_t length = 0;
    if (one_byte) {
      id = first >> 4;
      if (id == 15) return true;  // RFC 8285: stop processing
      length = (first & 0x0f) + 1u;
      at += 1;
    } else {
      if (at + 2 > data.size()) return false;
      id = first;
      length = data[at + 1];
      at += 2;
    }
    if (length > data.size() - at) return false;
    if (!visit(static_cast<int>(id), data.subspan(at, length))) return true;
    at += length;
  }
  return true;
}
}  // namespace

const char* to_string(RtpParseError error) {
  switch (error) {
    case RtpParseError::kTooShort: return "shorter than its header";
    case RtpParseError::kBadVersion: return "not RTP version 2";
    case RtpParseError::kBadExtension: return "header extension longer than the packet";
    case RtpParseError::kBadPadding: return "padding count does not fit the packet";
  }
  return "unknown";
}

bool RtpPacket::looks_like_rtcp(std::span<const uint8_t> data) {
  return data.size() >= 2 && (data[0] >> 6) == 2 && data[1] >= 192 && data[1] <= 223;
}

std::optional<RtpPacket> RtpPacket::parse(std::span<const uint8_t> data, RtpParseError* error) {
  auto fail = [&](RtpParseError e) -> std::optional<RtpPacket> {
    if (error) *error = e;
    return std::nullopt;
  };
  if (data.size() < kFixedHeaderBytes) return fail(RtpParseError::kTooShort);
  if ((data[0] >> 6) != 2) return fail(RtpParseError::kBadVersion);
  const bool has_padding = (data[0] & 0x20) != 0;
  const bool has_extension = (data[0] & 0x10) != 0;
  const size_t csrc_count = data[0] & 0x0f;
  size_t header = kFixedHeaderBytes + 4 * csrc_count;
  if (header > data.size()) return fail(RtpParseError::kTooShort);

  RtpPacket p;
  p.bytes_ = data;
  p.payload_type_ = data[1] & 0x7f;
  p.marker_ = (data[1] & 0x80) != 0;
  p.sequence_number_ = read_u16(&data[2]);
  p.timestamp_ = read_u32(&data[4]);
  p.ssrc_ = read_u32(&data[8]);
  if (has_extension) {
    if (header + 4 > data.size()) return fail(RtpParseError::kBadExtension);
    const uint16_t profile = read_u16(&data[header]);
    const size_t words = read_u16(&data[header + 2]);
    const size_t length = 4 * words;
    if (length > data.size() - header - 4) return fail(RtpParseError::kBadExtension);
    const auto elements = data.subspan(header + 4, length);
    if (profile == kOneByteProfile || (profile & kTwoByteProfileMask) == kTwoByteProfile) {
      if (!walk_extensions(profile, elements, [](int, std::span<const uint8_t>) { return true; }))
        return fail(RtpParseError::kBadExtension);
      p.extension_profile_ = profile;
      p.extension_data_ = elements;
    }
    header += 4 + length;
  }
  size_t padding = 0;
  if (has_padding) {
    if (data.size() == header) return fail(RtpParseError::kBadPadding);
    padding = data.back();
    if (padding == 0 || padding > data.size() - header) return fail(RtpParseError::kBadPadding);
  }
  p.padding_bytes_ = padding;
  p.payload_ = data.subspan(header, data.size() - header - padding);
  return p;
}

std::optional<std::span<const uint8_t>> RtpPacket::extension(int id) const {
  if (extension_profile_ == 0 || id <= 0) return std::nullopt;
  std::optional<std::span<const uint8_t>> found;
  walk_extensions(extension_profile_, extension_data_, [&](int element_id, std::span<const uint8_t> data) {
    if (element_id != id) return true;
    found = data;
    return false;
  });
  return found;
}

void write_rtp_packet(const RtpHeaderFields& header, std::span<const uint8_t> payload, std::span<uint8_t> out,
                      size_t& written, std::span<const std::pair<int, std::span<const uint8_t>>> extensions) {
  size_t ext_bytes = 0;
  for (const auto& [id, data] : extensions) {
    if (id < 1 || id > 14 || data.empty() || data.size() > 16) throw Error("write_rtp_packet: bad extension");
    ext_bytes += 1 + data.size();
  }
  const size_t ext_words = (ext_bytes + 3) / 4;
  const size_t total = kFixedHeaderBytes + (ext_bytes ? 4 + 4 * ext_words : 0) + payload.size();
  if (total > out.size()) throw Error("write_rtp_packet: buffer too small");
  uint8_t* p = out.data();
  p[0] = static_cast<uint8_t>(0x80 | (ext_bytes ? 0x10 : 0));
  p[1] = static_cast<uint8_t>((header.marker ? 0x80 : 0) | (header.payload_type & 0x7f));
  write_u16(p + 2, header.sequence_number);
  write_u32(p + 4, header.timestamp);
  write_u32(p + 8, header.ssrc);
  size_t at = kFixedHeaderBytes;
  if (ext_bytes) {
    write_u16(p + at, kOneByteProfile);
    write_u16(p + at + 2, static_cast<uint16_t>(ext_words));
    at += 4;
    const size_t start = at;
    for (const auto& [id, data] : extensions) {
      p[at++] = static_cast<uint8_t>((id << 4) | (data.size() - 1));
      std::memcpy(p + at, data.data(), data.size());
      at += data.size();
    }
    std::fill(p + at, p + start + 4 * ext_words, uint8_t{0});
    at = start + 4 * ext_words;
  }
  if (!payload.empty()) std::memcpy(p + at, payload.data(), payload.size());
  written = at + payload.size();
}

}  // namespace callrec::ingest
