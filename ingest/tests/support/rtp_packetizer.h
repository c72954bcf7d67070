// Packetizers for tests, benchmarks and fuzz seeds: encoded frames into RTP payloads the
// way senders do (RFC 7741 VP8 with PictureID/TL0PICIDX/TID, RFC 6184 H.264 with
// STAP-A for small NAL units and FU-A for large ones), and a sequence writer that puts
// RTP headers on them. Not part of the ingest library: callrec receives, it does not send.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "callrec/ingest/rtp_packet.h"

namespace callrec::ingest::test {

struct Vp8PayloadLayers {
  std::optional<int> picture_id;  // 15-bit
  std::optional<int> tl0_pic_idx;
  std::optional<int> temporal_layer;
  bool layer_sync = false;
};

// One VP8 frame as payloads of at most `max_payload` bytes.
std::vector<std::vector<uint8_t>> packetize_vp8(std::span<const uint8_t> frame, const Vp8PayloadLayers& layers,
                                                size_t max_payload = 1200);
// One H.264 access unit (Annex B) as payloads: runs of small NAL units in STAP-A, large
// ones in FU-A fragments.
std::vector<std::vector<uint8_t>> packetize_h264(std::span<const uint8_t> annex_b, size_t max_payload = 1200);
// The NAL units of an Annex B stream, without start codes.
std::vector<std::span<const uint8_t>> split_annex_b(std::span<const uint8_t> annex_b);

// Numbers packets of one stream: sequence numbers count up, the marker is set on a
// frame's last payload.
class RtpSequenceWriter {
 public:
  RtpSequenceWriter(uint8_t payload_type, uint32_t ssrc, uint16_t first_sequence = 1000)
      : payload_type_(payload_type), ssrc_(ssrc), sequence_(first_sequence) {}
  std::vector<std::vector<uint8_t>> frame(const std::vector<std::vector<uint8_t>>& payloads, uint32_t timestamp);
  uint16_t next_sequence() const { return sequence_; }

 private:
  uint8_t payload_type_;
  uint32_t ssrc_;
  uint16_t sequence_;
};

}  // namespace callrec::ingest::test
