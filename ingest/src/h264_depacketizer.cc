#include "callrec/ingest/h264_depacketizer.h"

#include "byte_io.h"

namespace callrec::ingest {
namespace {
constexpr uint8_t kStartCode[] = {0, 0, 0, 1};
constexpr uint8_t kNalSlice = 1, kNalIdr = 5, kNalSei = 6, kNalSps = 7, kNalPps = 8, kNalAud = 9;
constexpr uint8_t kStapA = 24, kFuA = 28;

bool starts_access_unit(uint8_t type, std::span<const uint8_t> after_header) {
  if (type == kNalSps || type == kNalPps || type == kNalAud || type == kNalSei) return true;
  // first_mb_in_slice is ue(v); it is 0 exactly when the first bit is 1.
  if (type == kNalSlice || type == kNalIdr) return !after_header.empty() && (after_header[0] & 0x80) != 0;
  return false;
}
}  // namespace

H264Depacketizer::H264Depacketizer(const std::vector<std::vector<uint8_t>>& parameter_sets) {
  for (const auto& nal : parameter_sets) {
    if (nal.empty()) continue;
    const uint8_t type = nal[0] & 0x1f;
    if (type == kNalSps) sps_ = nal;
    if (type == kNalPps) pps_ = nal;
  }
}

void H264Depacketizer::reset() {
  assembling_ = false;
  broken_ = false;
  loss_pending_ = false;
  fu_active_ = false;
  skipping_timestamp_.reset();
  buffer_.clear();
}

void H264Depacketizer::discard_frame() {
  if (assembling_) ++stats_.frames_broken;
  assembling_ = false;
  broken_ = false;
  fu_active_ = false;
  loss_pending_ = true;
}

bool H264Depacketizer::clean_start(std::span<const uint8_t> payload) const {
  const uint8_t type = payload[0] & 0x1f;
  if (type == kStapA) {
    if (payload.size() < 4) return false;
    const size_t size = read_u16(&payload[1]);
    if (size == 0 || size > payload.size() - 3) return false;
    return starts_access_unit(payload[3] & 0x1f, payload.subspan(4, size - 1));
  }
  if (type == kFuA) {
    if (payload.size() < 3 || (payload[1] & 0x80) == 0) return false;
    return starts_access_unit(payload[1] & 0x1f, payload.subspan(2));
  }
  return starts_access_unit(type, payload.subspan(1));
}

void H264Depacketizer::note_nal(uint8_t type, std::span<const uint8_t> nal) {
  if (type == kNalSps) {
    has_sps_ = true;
    sps_.assign(nal.begin(), nal.end());
  } else if (type == kNalPps) {
    has_pps_ = true;
    pps_.assign(nal.begin(), nal.end());
  } else if (type == kNalIdr) {
    has_idr_ = true;
  }
}

bool H264Depacketizer::append_nal(std::span<const uint8_t> nal) {
  if (buffer_.size() + sizeof kStartCode + nal.size() > kMaxFrameBytes) {
    ++stats_.frames_too_large;
    return false;
  }
  buffer_.insert(buffer_.end(), std::begin(kStartCode), std::end(kStartCode));
  buffer_.insert(buffer_.end(), nal.begin(), nal.end());
  return true;
}

const AssembledFrame* H264Depacketizer::push(const RtpPacket& packet, int64_t arrival_us, int64_t lost_before) {
  if (lost_before > 0) {
    loss_pending_ = true;
    if (assembling_) broken_ = true;
  }
  if (assembling_ && packet.timestamp() != timestamp_) discard_frame();
  const auto payload = packet.payload();
  if (payload.empty() || (payload[0] & 0x80) != 0) {  // empty, or forbidden_zero_bit set
    ++stats_.packets_malformed;
    if (assembling_) broken_ = true;
    if (packet.marker()) discard_frame();
    return nullptr;
  }
  if (!assembling_) {
    if (!clean_start(payload)) {
      if (skipping_timestamp_ != packet.timestamp()) {
        skipping_timestamp_ = packet.timestamp();
        ++stats_.frames_broken;
        loss_pending_ = true;
      }
      return nullptr;
    }
    assembling_ = true;
    broken_ = false;
    fu_active_ = false;
    has_sps_ = has_pps_ = has_idr_ = false;
    timestamp_ = packet.timestamp();
    buffer_.clear();
    frame_ = AssembledFrame{};
    frame_.loss_before = loss_pending_;
  }

  const uint8_t type = payload[0] & 0x1f;
  bool ok = true;
  if (type >= 1 && type <= 23) {
    if (fu_active_) ok = false;  // a fragmented NAL was not finished
    ok = ok && append_nal(payload);
    if (ok) note_nal(type, payload);
  } else if (type == kStapA) {
    if (fu_active_) ok = false;
    size_t at = 1;
    int units = 0;
    while (ok && at < payload.size()) {
      if (payload.size() - at < 2) { ok = false; break; }
      const size_t size = read_u16(&payload[at]);
      at += 2;
      if (size == 0 || size > payload.size() - at || (payload[at] & 0x80) != 0) { ok = false; break; }
      const auto nal = payload.subspan(at, size);
      ok = append_nal(nal);
      if (ok) note_nal(nal[0] & 0x1f, nal);
      at += size;
      ++units;
    }
    if (units == 0) ok = false;
    if (!ok) ++stats_.packets_malformed;
  } else if (type == kFuA) {
    if (payload.size() < 3) {
      ok = false;
      ++stats_.packets_malformed;
    } else {
      const uint8_t fu = payload[1];
      const bool start = (fu & 0x80) != 0, end = (fu & 0x40) != 0;
      const uint8_t nal_type = fu & 0x1f;
      const auto data = payload.subspan(2);
      if (start) {
        if (fu_active_) ok = false;
        fu_active_ = true;
        fu_start_ = buffer_.size() + sizeof kStartCode;
        const uint8_t header = static_cast<uint8_t>((payload[0] & 0xe0) | nal_type);
        ok = ok && append_nal(std::span<const uint8_t>(&header, 1));
      } else if (!fu_active_) {
        ok = false;
      }
      if (ok) {
        if (buffer_.size() + data.size() > kMaxFrameBytes) {
          ++stats_.frames_too_large;
          ok = false;
        } else {
          buffer_.insert(buffer_.end(), data.begin(), data.end());
        }
      }
      if (ok && end) {
        fu_active_ = false;
        note_nal(nal_type, std::span<const uint8_t>(buffer_).subspan(fu_start_));
      }
    }
  } else {
    ok = false;  // STAP-B, MTAP, FU-B, reserved
    ++stats_.packets_malformed;
  }
  if (!ok) broken_ = true;
  if (!packet.marker()) return nullptr;
  if (fu_active_) broken_ = true;
  if (broken_) {
    discard_frame();
    return nullptr;
  }
  return finish(arrival_us);
}

const AssembledFrame* H264Depacketizer::finish(int64_t arrival_us) {
  assembling_ = false;
  std::span<const uint8_t> data = buffer_;
  bool keyframe = has_idr_;
  if (has_idr_ && (!has_sps_ || !has_pps_)) {
    if (sps_.empty() || pps_.empty()) {
      keyframe = false;
      ++idr_without_parameter_sets_;
    } else {
      output_.clear();
      if (!has_sps_) {
        output_.insert(output_.end(), std::begin(kStartCode), std::end(kStartCode));
        output_.insert(output_.end(), sps_.begin(), sps_.end());
      }
      if (!has_pps_) {
        output_.insert(output_.end(), std::begin(kStartCode), std::end(kStartCode));
        output_.insert(output_.end(), pps_.begin(), pps_.end());
      }
      output_.insert(output_.end(), buffer_.begin(), buffer_.end());
      data = output_;
    }
  }
  frame_.data = data;
  frame_.rtp_timestamp = timestamp_;
  frame_.arrival_us = arrival_us;
  frame_.keyframe = keyframe;
  loss_pending_ = false;
  ++stats_.frames;
  return &frame_;
}

}  // namespace callrec::ingest
