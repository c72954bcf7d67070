// Vp8Depacketizer: RFC 7741 payloads into whole VP8 frames.
//
// Reads the payload descriptor (X, N, S, PID; I with 7- or 15-bit PictureID, L with
// TL0PICIDX, T/K with TID, Y and KEYIDX), checking each optional byte is there. A frame
// starts with S=1 and PID=0 and ends with the marker bit; the first byte of the VP8
// payload header says whether it is a key frame (P bit), whose header also gives the
// picture size.
#pragma once

#include <vector>

#include "callrec/ingest/video_depacketizer.h"

namespace callrec::ingest {

struct Vp8Descriptor {
  bool start_of_partition = false;  // S
  int partition_index = 0;          // PID
  Vp8LayerInfo layers;
  size_t size = 0;                  // descriptor bytes before the VP8 payload

  static std::optional<Vp8Descriptor> parse(std::span<const uint8_t> payload);
};

class Vp8Depacketizer final : public VideoDepacketizer {
 public:
  Vp8Depacketizer() = default;
  const AssembledFrame* push(const RtpPacket& packet, int64_t arrival_us, int64_t lost_before) override;
  void reset() override;

 private:
  void discard_frame();

  bool assembling_ = false;
  bool broken_ = false;
  bool loss_pending_ = false;  // lost or discarded since the last frame handed on
  uint32_t timestamp_ = 0;
  std::optional<uint32_t> skipping_timestamp_;  // a frame whose start was lost
  std::vector<uint8_t> buffer_;
  AssembledFrame frame_;
};

}  // namespace callrec::ingest
