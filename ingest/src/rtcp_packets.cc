#include "callrec/ingest/rtcp_packets.h"

#include <algorithm>
#include <cstring>

#include "byte_io.h"

namespace callrec::ingest {
namespace {
constexpr size_t kHeaderBytes = 4;
constexpr size_t kMaxBlocks = 31;

// The packet's count field and payload after the 4-byte header; checks version 2, the
// expected type and that the length field covers exactly the span given (RtcpCompound
// hands each packet over cut to its stated length).
struct Header {
  uint8_t count = 0;
  std::span<const uint8_t> body;
};
std::optional<Header> read_header(std::span<const uint8_t> packet, RtcpType type) {
  if (packet.size() < kHeaderBytes || (packet[0] >> 6) != 2 || packet[1] != static_cast<uint8_t>(type))
    return std::nullopt;
  const size_t length = 4 * (size_t{read_u16(&packet[2])} + 1);
  if (length != packet.size()) return std::nullopt;
  size_t end = packet.size();
  if (packet[0] & 0x20) {  // padding, counted in its last byte
    const size_t padding = packet.back();
    if (padding == 0 || padding > end - kHeaderBytes) return std::nullopt;
    end -= padding;
  }
  return Header{static_cast<uint8_t>(packet[0] & 0x1f), packet.subspan(kHeaderBytes, end - kHeaderBytes)};
}

void write_header(uint8_t* out, uint8_t count, RtcpType type, size_t total_bytes) {
  out[0] = static_cast<uint8_t>(0x80 | (count & 0x1f));
  out[1] = static_cast<uint8_t>(type);
  write_u16(out + 2, static_cast<uint16_t>(total_bytes / 4 - 1));
}

bool read_blocks(std::span<const uint8_t> data, size_t count, std::vector<ReportBlock>& blocks) {
  if (count * ReportBlock::kSize > data.size()) return false;
  blocks.reserve(count);
  for (size_t i = 0; i < count; ++i) blocks.push_back(ReportBlock::parse(data.data() + i * ReportBlock::kSize));
  return true;
}
}  // namespace

int64_t NtpTime::us() const {
  const auto seconds = static_cast<int64_t>(value >> 32);
  const auto fraction = static_cast<int64_t>(((value & 0xffffffffULL) * 1'000'000ULL) >> 32);
  return seconds * 1'000'000 + fraction;
}

NtpTime NtpTime::from_us(int64_t us) {
  const auto seconds = static_cast<uint64_t>(us / 1'000'000);
  const auto micros = static_cast<uint64_t>(us % 1'000'000);
  return NtpTime{(seconds << 32) | ((micros << 32) / 1'000'000ULL)};
}

ReportBlock ReportBlock::parse(const uint8_t* d) {
  ReportBlock b;
  b.ssrc = read_u32(d);
  b.fraction_lost = d[4];
  uint32_t lost = read_u24(d + 5);
  if (lost & 0x800000) lost |= 0xff000000;  // sign-extend the 24-bit count
  b.cumulative_lost = static_cast<int32_t>(lost);
  b.extended_highest_sequence = read_u32(d + 8);
  b.jitter = read_u32(d + 12);
  b.last_sr = read_u32(d + 16);
  b.delay_since_last_sr = read_u32(d + 20);
  return b;
}

void ReportBlock::serialize(uint8_t* out) const {
  write_u32(out, ssrc);
  out[4] = fraction_lost;
  const int32_t lost = std::clamp(cumulative_lost, -0x800000, 0x7fffff);
  write_u24(out + 5, static_cast<uint32_t>(lost) & 0xffffff);
  write_u32(out + 8, extended_highest_sequence);
  write_u32(out + 12, jitter);
  write_u32(out + 16, last_sr);
  write_u32(out + 20, delay_since_last_sr);
}

std::optional<SenderReport> SenderReport::parse(std::span<const uint8_t> packet) {
  const auto h = read_header(packet, RtcpType::kSenderReport);
  if (!h || h->body.size() < 24) return std::nullopt;
  SenderReport sr;
  const uint8_t* d = h->body.data();
  sr.ssrc = read_u32(d);
  sr.ntp.value = read_u64(d + 4);
  sr.rtp_timestamp = read_u32(d + 12);
  sr.packet_count = read_u32(d + 16);
  sr.octet_count = read_u32(d + 20);
  if (!read_blocks(h->body.subspan(24), h->count, sr.blocks)) return std::nullopt;
  return sr;
}

size_t SenderReport::serialize(std::span<uint8_t> out) const {
  const size_t count = std::min(blocks.size(), kMaxBlocks);
  const size_t total = kHeaderBytes + 24 + count * ReportBlock::kSize;
  if (out.size() < total) return 0;
  uint8_t* p = out.data();
  write_header(p, static_cast<uint8_t>(count), RtcpType::kSenderReport, total);
  write_u32(p + 4, ssrc);
  write_u64(p + 8, ntp.value);
  write_u32(p + 16, rtp_timestamp);
  write_u32(p + 20, packet_count);
  write_u32(p + 24, octet_count);
  for (size_t i = 0; i < count; ++i) blocks[i].serialize(p + 28 + i * ReportBlock::kSize);
  return total;
}

std::optional<ReceiverReport> ReceiverReport::parse(std::span<const uint8_t> packet) {
  const auto h = read_header(packet, RtcpType::kReceiverReport);
  if (!h || h->body.size() < 4) return std::nullopt;
  ReceiverReport rr;
  rr.ssrc = read_u32(h->body.data());
  if (!read_blocks(h->body.subspan(4), h->count, rr.blocks)) return std::nullopt;
  return rr;
}

size_t ReceiverReport::serialize(std::span<uint8_t> out) const {
  const size_t count = std::min(blocks.size(), kMaxBlocks);
  const size_t total = kHeaderBytes + 4 + count * ReportBlock::kSize;
  if (out.size() < total) return 0;
  uint8_t* p = out.data();
  write_header(p, static_cast<uint8_t>(count), RtcpType::kReceiverReport, total);
  write_u32(p + 4, ssrc);
  for (size_t i = 0; i < count; ++i) blocks[i].serialize(p + 8 + i * ReportBlock::kSize);
  return total;
}

std::optional<FeedbackPli> FeedbackPli::parse(std::span<const uint8_t> packet) {
  const auto h = read_header(packet, RtcpType::kPayloadFeedback);
  if (!h || h->count != 1 || h->body.size() < 8) return std::nullopt;
  return FeedbackPli{read_u32(h->body.data()), read_u32(h->body.data() + 4)};
}

size_t FeedbackPli::serialize(std::span<uint8_t> out) const {
  if (out.size() < kSize) return 0;
  write_header(out.data(), 1, RtcpType::kPayloadFeedback, kSize);
  write_u32(out.data() + 4, sender_ssrc);
  write_u32(out.data() + 8, media_ssrc);
  return kSize;
}

std::optional<Bye> Bye::parse(std::span<const uint8_t> packet) {
  const auto h = read_header(packet, RtcpType::kBye);
  if (!h || size_t{h->count} * 4 > h->body.size()) return std::nullopt;
  Bye bye;
  for (size_t i = 0; i < h->count; ++i) bye.ssrcs.push_back(read_u32(h->body.data() + 4 * i));
  return bye;
}

size_t serialize_sdes_cname(uint32_t ssrc, std::string_view cname, std::span<uint8_t> out) {
  const size_t name = std::min<size_t>(cname.size(), 255);
  // SSRC, item type and length, the text, then at least one null octet ending the list,
  // padded to a 32-bit boundary.
  const size_t chunk = 4 + 2 + name + 1;
  const size_t total = kHeaderBytes + (chunk + 3) / 4 * 4;
  if (out.size() < total) return 0;
  uint8_t* p = out.data();
  std::fill(p, p + total, uint8_t{0});
  write_header(p, 1, RtcpType::kSourceDescription, total);
  write_u32(p + 4, ssrc);
  p[8] = 1;  // CNAME
  p[9] = static_cast<uint8_t>(name);
  std::memcpy(p + 10, cname.data(), name);
  return total;
}

}  // namespace callrec::ingest
