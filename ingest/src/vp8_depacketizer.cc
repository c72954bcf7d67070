#include "callrec/ingest/vp8_depacketizer.h"

namespace callrec::ingest {

std::optional<Vp8Descriptor> Vp8Descriptor::parse(std::span<const uint8_t> payload) {
  if (payload.empty()) return std::nullopt;
  Vp8Descriptor d;
  const uint8_t first = payload[0];
  d.start_of_partition = (first & 0x10) != 0;
  d.partition_index = first & 0x07;
  size_t at = 1;
  if (first & 0x80) {  // X: extension byte follows
    if (at >= payload.size()) return std::nullopt;
    const uint8_t ext = payload[at++];
    const bool has_picture_id = (ext & 0x80) != 0;
    const bool has_tl0 = (ext & 0x40) != 0;
    const bool has_tid = (ext & 0x20) != 0;
    const bool has_keyidx = (ext & 0x10) != 0;
    if (has_picture_id) {
      if (at >= payload.size()) return std::nullopt;
      const uint8_t b = payload[at++];
      if (b & 0x80) {  // M: 15-bit PictureID
        if (at >= payload.size()) return std::nullopt;
        d.layers.picture_id = ((b & 0x7f) << 8) | payload[at++];
      } else {
        d.layers.picture_id = b & 0x7f;
      }
    }
    if (has_tl0) {
      if (at >= payload.size()) return std::nullopt;
      d.layers.tl0_pic_idx = payload[at++];
    }
    if (has_tid || has_keyidx) {
      if (at >= payload.size()) return std::nullopt;
      const uint8_t b = payload[at++];
      if (has_tid) {
        d.layers.temporal_layer = b >> 6;
        d.layers.layer_sync = (b & 0x20) != 0;
      }
    }
  }
  d.size = at;
  return d;
}

void Vp8Depacketizer::discard_frame() {
  if (assembling_) ++stats_.frames_broken;
  assembling_ = false;
  broken_ = false;
  loss_pending_ = true;
}

void Vp8Depacketizer::reset() {
  assembling_ = false;
  broken_ = false;
  loss_pending_ = false;
  skipping_timestamp_.reset();
  buffer_.clear();
}

const AssembledFrame* Vp8Depacketizer::push(const RtpPacket& packet, int64_t arrival_us, int64_t lost_before) {
  if (lost_before > 0) {
    loss_pending_ = true;
    if (assembling_) broken_ = true;
  }
  if (assembling_ && packet.timestamp() != timestamp_) discard_frame();  // its end was lost
  const auto payload = packet.payload();
  const auto d = Vp8Descriptor::parse(payload);
  const bool starts_frame = d && d->start_of_partition && d->partition_index == 0;
  if (!d || (starts_frame && d->size >= payload.size())) {
    ++stats_.packets_malformed;
    if (assembling_) broken_ = true;
    else loss_pending_ = true;
    if (packet.marker()) discard_frame();
    return nullptr;
  }
  if (!assembling_) {
    if (!starts_frame) {
      // The start of this frame was lost (or we joined mid-frame): skip the rest of it.
      if (skipping_timestamp_ != packet.timestamp()) {
        skipping_timestamp_ = packet.timestamp();
        ++stats_.frames_broken;
        loss_pending_ = true;
      }
      return nullptr;
    }
    assembling_ = true;
    broken_ = false;
    timestamp_ = packet.timestamp();
    buffer_.clear();
    frame_ = AssembledFrame{};
    frame_.vp8 = d->layers;
    frame_.loss_before = loss_pending_;
  } else if (starts_frame) {
    broken_ = true;  // a second start inside one frame
  }
  const auto data = payload.subspan(d->size);
  if (buffer_.size() + data.size() > kMaxFrameBytes) {
    ++stats_.frames_too_large;
    broken_ = true;
  } else {
    buffer_.insert(buffer_.end(), data.begin(), data.end());
  }
  if (!packet.marker()) return nullptr;

  assembling_ = false;
  if (broken_ || buffer_.empty()) {
    assembling_ = true;  // so discard_frame() counts it
    discard_frame();
    return nullptr;
  }
  frame_.data = buffer_;
  frame_.rtp_timestamp = timestamp_;
  frame_.arrival_us = arrival_us;
  frame_.keyframe = (buffer_[0] & 0x01) == 0;
  // Key frame header (RFC 6386 §9.1): 3-byte frame tag, start code 9d 01 2a, then
  // 14-bit width and height with 2-bit scale.
  if (frame_.keyframe && buffer_.size() >= 10 && buffer_[3] == 0x9d && buffer_[4] == 0x01 && buffer_[5] == 0x2a) {
    frame_.width = (buffer_[6] | (buffer_[7] << 8)) & 0x3fff;
    frame_.height = (buffer_[8] | (buffer_[9] << 8)) & 0x3fff;
  }
  loss_pending_ = false;
  ++stats_.frames;
  return &frame_;
}

}  // namespace callrec::ingest
