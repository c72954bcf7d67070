// VideoDepacketizer: in-order RTP packets of one video stream in, whole encoded frames
// out. The codec classes (Vp8Depacketizer, H264Depacketizer) implement it.
//
// A frame is the run of packets with one RTP timestamp, ended by the marker bit. A
// frame that misses a packet (a gap inside it, a lost start or end), or that breaks the
// payload format, is discarded and counted as broken: it is never handed on
// half-assembled. Whether a complete frame can be decoded after earlier losses is the
// KeyframeGate's business, not the depacketizer's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "callrec/ingest/rtp_packet.h"

namespace callrec::ingest {

// The RFC 7741 payload descriptor fields that matter for decoding order.
struct Vp8LayerInfo {
  std::optional<int> picture_id;   // 7 or 15 bits
  std::optional<int> tl0_pic_idx;  // 8 bits, increments with each TL0 frame
  std::optional<int> temporal_layer;
  bool layer_sync = false;         // Y: depends only on TL0 frames
};

struct AssembledFrame {
  std::span<const uint8_t> data;  // valid until the next push()
  uint32_t rtp_timestamp = 0;
  int64_t arrival_us = 0;         // of its last packet
  bool keyframe = false;
  // Sequence numbers were lost before this frame's first packet (it is complete, but
  // a frame it refers to may be gone).
  bool loss_before = false;
  Vp8LayerInfo vp8;
  std::optional<int> width;
  std::optional<int> height;
};

struct DepacketizerStats {
  int64_t frames = 0;
  int64_t frames_broken = 0;       // incomplete or malformed, discarded
  int64_t packets_malformed = 0;   // payload not valid for the format
  int64_t frames_too_large = 0;    // beyond kMaxFrameBytes
};

class VideoDepacketizer {
 public:
  // A frame larger than this is discarded (hostile or broken input).
  static constexpr size_t kMaxFrameBytes = 4 << 20;

  virtual ~VideoDepacketizer() = default;
  // Feeds the next packet in sequence order; `lost_before` sequence numbers were lost
  // just before it. Returns the frame it completed, if any.
  virtual const AssembledFrame* push(const RtpPacket& packet, int64_t arrival_us, int64_t lost_before) = 0;
  // Drops a partly assembled frame (new segment).
  virtual void reset() = 0;
  const DepacketizerStats& stats() const { return stats_; }

 protected:
  DepacketizerStats stats_;
};

}  // namespace callrec::ingest
