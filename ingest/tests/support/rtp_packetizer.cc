#include "rtp_packetizer.h"

#include <algorithm>
#include <string_view>

namespace callrec::ingest::test {

std::vector<std::vector<uint8_t>> packetize_vp8(std::span<const uint8_t> frame, const Vp8PayloadLayers& layers,
                                                size_t max_payload) {
  std::vector<uint8_t> descriptor;
  const bool x = layers.picture_id || layers.tl0_pic_idx || layers.temporal_layer;
  descriptor.push_back(x ? 0x80 : 0);
  if (x) {
    descriptor.push_back(static_cast<uint8_t>((layers.picture_id ? 0x80 : 0) | (layers.tl0_pic_idx ? 0x40 : 0) |
                                              (layers.temporal_layer ? 0x20 : 0)));
    if (layers.picture_id) {
      descriptor.push_back(static_cast<uint8_t>(0x80 | ((*layers.picture_id >> 8) & 0x7f)));
      descriptor.push_back(static_cast<uint8_t>(*layers.picture_id & 0xff));
    }
    if (layers.tl0_pic_idx) descriptor.push_back(static_cast<uint8_t>(*layers.tl0_pic_idx));
    if (layers.temporal_layer)
      descriptor.push_back(static_cast<uint8_t>((*layers.temporal_layer << 6) | (layers.layer_sync ? 0x20 : 0)));
  }
  const size_t room = std::max<size_t>(1, max_payload - descriptor.size());
  std::vector<std::vector<uint8_t>> out;
  for (size_t at = 0; at < frame.size() || out.empty(); at += room) {
    std::vector<uint8_t> p = descriptor;
    if (at == 0) p[0] |= 0x10;  // S, partition 0
    const size_t n = std::min(room, frame.size() - at);
    p.insert(p.end(), frame.begin() + static_cast<std::ptrdiff_t>(at), frame.begin() + static_cast<std::ptrdiff_t>(at + n));
    out.push_back(std::move(p));
    if (n == 0) break;
  }
  return out;
}

std::vector<std::span<const uint8_t>> split_annex_b(std::span<const uint8_t> s) {
  std::vector<std::span<const uint8_t>> nals;
  size_t i = 0, start = std::string_view::npos;
  auto close = [&](size_t end) {
    if (start != std::string_view::npos && end > start) nals.push_back(s.subspan(start, end - start));
  };
  while (i + 3 <= s.size()) {
    if (s[i] == 0 && s[i + 1] == 0 && s[i + 2] == 1) {
      size_t end = i;
      if (end > 0 && s[end - 1] == 0) --end;
      close(end);
      i += 3;
      start = i;
    } else {
      ++i;
    }
  }
  close(s.size());
  return nals;
}

std::vector<std::vector<uint8_t>> packetize_h264(std::span<const uint8_t> annex_b, size_t max_payload) {
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> stap;
  auto flush_stap = [&] {
    if (stap.empty()) return;
    // One unit alone goes as a single NAL unit packet.
    if (stap.size() == size_t{3} + static_cast<size_t>((stap[1] << 8) | stap[2])) out.emplace_back(stap.begin() + 3, stap.end());
    else out.push_back(stap);
    stap.clear();
  };
  for (const auto nal : split_annex_b(annex_b)) {
    if (nal.empty()) continue;
    if (nal.size() + 3 <= max_payload) {
      if (!stap.empty() && stap.size() + 2 + nal.size() > max_payload) flush_stap();
      if (stap.empty()) stap.push_back(static_cast<uint8_t>((nal[0] & 0x60) | 24));
      stap[0] = static_cast<uint8_t>(std::max(stap[0] & 0x60, nal[0] & 0x60) | 24);
      stap.push_back(static_cast<uint8_t>(nal.size() >> 8));
      stap.push_back(static_cast<uint8_t>(nal.size()));
      stap.insert(stap.end(), nal.begin(), nal.end());
      continue;
    }
    flush_stap();
    const size_t room = max_payload - 2;
    for (size_t at = 1; at < nal.size(); at += room) {
      const size_t n = std::min(room, nal.size() - at);
      std::vector<uint8_t> p = {static_cast<uint8_t>((nal[0] & 0xe0) | 28),
                                static_cast<uint8_t>((at == 1 ? 0x80 : 0) | (at + n == nal.size() ? 0x40 : 0) |
                                                     (nal[0] & 0x1f))};
      p.insert(p.end(), nal.begin() + static_cast<std::ptrdiff_t>(at), nal.begin() + static_cast<std::ptrdiff_t>(at + n));
      out.push_back(std::move(p));
    }
  }
  flush_stap();
  return out;
}

std::vector<std::vector<uint8_t>> RtpSequenceWriter::frame(const std::vector<std::vector<uint8_t>>& payloads,
                                                           uint32_t timestamp) {
  std::vector<std::vector<uint8_t>> packets;
  for (size_t i = 0; i < payloads.size(); ++i) {
    std::vector<uint8_t> bytes(12 + payloads[i].size());
    size_t written = 0;
    write_rtp_packet({.payload_type = payload_type_, .marker = i + 1 == payloads.size(), .sequence_number = sequence_++,
                      .timestamp = timestamp, .ssrc = ssrc_},
                     payloads[i], bytes, written);
    bytes.resize(written);
    packets.push_back(std::move(bytes));
  }
  return packets;
}

}  // namespace callrec::ingest::test
