#include "reuse_weighting.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

extern "C" {
#include <libavutil/buffer.h>
#include <libavutil/frame.h>
}

#include "callrec/core/error.h"

namespace callrec::muxer {
namespace {

constexpr int kMacroblock = 16;
constexpr int kHalfMacroblock = kMacroblock / 2;
// libx264 reads a region's qoffset as a fraction of its QP range (51 at 8 bits).
constexpr int kQpRange = 51;
constexpr int kOffsetDenominator = kQpRange * 1000;
// Weight of the newest picture in the smoothed reuse share: a block's share follows a
// change (someone starts moving) within two or three pictures.
constexpr float kNewestWeight = 0.5f;
// x264's lowres cost estimates are never 0; this floor keeps a flat block (which any
// picture reuses at almost no cost) from dividing by nothing, in sum-of-2x2 units.
constexpr double kIntraCostFloor = 16.0;

// |a - b| of two sums of 2x2 samples (at most 4 x 255, so their difference fits 16
// bits signed) in 16-bit lanes: the larger of the difference and its negation, one
// SSE2 instruction each (std::abs on an int widens every lane to 32 bits).
inline uint16_t distance(uint16_t a, uint16_t b) {
  const auto d = static_cast<int16_t>(a - b);
  return static_cast<uint16_t>(std::max(d, static_cast<int16_t>(-d)));
}

}  // namespace

void ReuseWeighting::PoolDeleter::operator()(AVBufferPool* pool) const { av_buffer_pool_uninit(&pool); }

ReuseWeighting::ReuseWeighting(int width, int height, double strength)
    : width_(width),
      height_(height),
      mb_columns_((width + kMacroblock - 1) / kMacroblock),
      mb_rows_((height + kMacroblock - 1) / kMacroblock),
      half_width_(width / 2),
      half_height_(height / 2),
      half_stride_(half_width_ + 1),
      half_(static_cast<size_t>(half_stride_) * half_height_),
      previous_half_(half_.size()),
      intra_columns_(static_cast<size_t>(half_width_)),
      inter_columns_(intra_columns_.size()),
      reuse_(static_cast<size_t>(mb_columns_) * mb_rows_, 0.0f),
      steps_(reuse_.size(), 0) {
  // What the macroblock tree propagates to a block whose share f is reused by each of
  // the next kHorizonPictures pictures, relative to its own intra cost:
  // f + f^2 + ... + f^N; x264's offset is -strength * log2(1 + that). Tabulated: two
  // transcendental calls per block were a fifth of this class's time.
  for (int step = 0; step < kShareSteps; ++step) {
    const double f = std::min(static_cast<double>(step) / (kShareSteps - 1), 0.999);
    const double propagated = f * (1 - std::pow(f, kHorizonPictures)) / (1 - f);
    offset_for_share_[step] = static_cast<float>(-strength * std::log2(1 + propagated));
    numerator_for_share_[step] = static_cast<int>(std::lround(offset_for_share_[step] * 1000));
  }
  side_data_pool_.reset(av_buffer_pool_init(steps_.size() * sizeof(AVRegionOfInterest), nullptr));
  if (!side_data_pool_) throw Error("muxer: out of memory allocating the quantizer offset pool");
}

ReuseWeighting::~ReuseWeighting() = default;

void ReuseWeighting::annotate(AVFrame& picture) {
  if (picture.width != width_ || picture.height != height_) {
    throw Error("muxer: quantizer offsets are set up for " + std::to_string(width_) + "x" +
                std::to_string(height_) + " pictures, got " + std::to_string(picture.width) + "x" +
                std::to_string(picture.height));
  }
  av_frame_remove_side_data(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST);
  std::swap(half_, previous_half_);
  downscale(picture);
  if (++pictures_seen_ == 1) {
    std::fill(steps_.begin(), steps_.end(), static_cast<uint16_t>(std::lround(kAssumedFirstShare * (kShareSteps - 1))));
  } else {
    update_estimate();
  }
  attach(picture);
}

void ReuseWeighting::downscale(const AVFrame& picture) {
  const int stride = picture.linesize[0];
  for (int y = 0; y < half_height_; ++y) {
    const uint8_t* top = picture.data[0] + static_cast<ptrdiff_t>(2 * y) * stride;
    const uint8_t* bottom = top + stride;
    uint16_t* out = &half_[static_cast<size_t>(y) * half_stride_];
    for (int x = 0; x < half_width_; ++x) {
      // Each pair of samples read as one 16-bit word, its two bytes added by masking
      // and shifting (the same sum in either byte order): the compiler keeps the
      // whole row in 16-bit lanes instead of taking every other byte apart.
      uint16_t upper = 0;
      uint16_t lower = 0;
      std::memcpy(&upper, top + 2 * x, sizeof upper);
      std::memcpy(&lower, bottom + 2 * x, sizeof lower);
      out[x] = static_cast<uint16_t>((upper & 0xff) + (upper >> 8) + (lower & 0xff) + (lower >> 8));
    }
    out[half_width_] = out[half_width_ - 1];  // so the last column's gradient is 0, branch-free
  }
}

void ReuseWeighting::update_estimate() {
  const bool first_estimate = pictures_seen_ == 2;
  // Cheap stand-ins for x264's lowres costs, summed per macroblock: intra from the
  // block's gradients, inter from its difference to the same place in the previous
  // picture. The eight rows of a macroblock row are summed column by column first
  // (elementwise over contiguous samples, which the compiler vectorizes; eight rows of
  // sums of 2x2 samples fit 16 bits), then each macroblock's eight columns.
  const auto width = static_cast<size_t>(half_width_);
  for (int mby = 0; mby < mb_rows_; ++mby) {
    std::fill(intra_columns_.begin(), intra_columns_.end(), uint16_t{0});
    std::fill(inter_columns_.begin(), inter_columns_.end(), uint16_t{0});
    const int y_end = std::min((mby + 1) * kHalfMacroblock, half_height_);
    for (int y = mby * kHalfMacroblock; y < y_end; ++y) {
      const uint16_t* row = &half_[static_cast<size_t>(y) * half_stride_];
      const uint16_t* below = y + 1 < half_height_ ? row + half_stride_ : row;
      const uint16_t* before = &previous_half_[static_cast<size_t>(y) * half_stride_];
      uint16_t* intra = intra_columns_.data();
      uint16_t* inter = inter_columns_.data();
      for (size_t x = 0; x < width; ++x) {
        const uint16_t v = row[x];
        intra[x] = static_cast<uint16_t>(intra[x] + distance(v, row[x + 1]) + distance(v, below[x]));
        inter[x] = static_cast<uint16_t>(inter[x] + distance(v, before[x]));
      }
    }
    for (int mbx = 0; mbx < mb_columns_; ++mbx) {
      const size_t x0 = static_cast<size_t>(mbx) * kHalfMacroblock;
      const size_t x1 = std::min(x0 + kHalfMacroblock, width);
      int intra = 0;
      int inter = 0;
      for (size_t x = x0; x < x1; ++x) {
        intra += intra_columns_[x];
        inter += inter_columns_[x];
      }
      const size_t i = static_cast<size_t>(mby) * mb_columns_ + mbx;
      const double intra_cost = intra / 8.0 + kIntraCostFloor;
      const double inter_cost = std::min(inter / 4.0, intra_cost);
      const auto reused_now = static_cast<float>(1.0 - inter_cost / intra_cost);
      reuse_[i] = first_estimate ? reused_now : kNewestWeight * reused_now + (1 - kNewestWeight) * reuse_[i];
      // Rounded to the nearest step (the share is never negative).
      steps_[i] = static_cast<uint16_t>(reuse_[i] * (kShareSteps - 1) + 0.5f);
    }
  }
}

std::vector<float> ReuseWeighting::offsets() const {
  std::vector<float> offsets(steps_.size());
  for (size_t i = 0; i < steps_.size(); ++i) offsets[i] = offset_for_share_[steps_[i]];
  return offsets;
}

void ReuseWeighting::attach(AVFrame& picture) const {
  AVBufferRef* buffer = av_buffer_pool_get(side_data_pool_.get());
  if (buffer == nullptr) throw Error("muxer: out of memory for a picture's quantizer offsets");
  auto* regions = reinterpret_cast<AVRegionOfInterest*>(buffer->data);
  for (int mby = 0; mby < mb_rows_; ++mby) {
    for (int mbx = 0; mbx < mb_columns_; ++mbx) {
      const size_t i = static_cast<size_t>(mby) * mb_columns_ + mbx;
      AVRegionOfInterest& region = regions[i];
      region.self_size = sizeof(AVRegionOfInterest);
      region.top = mby * kMacroblock;
      region.bottom = std::min((mby + 1) * kMacroblock, height_);
      region.left = mbx * kMacroblock;
      region.right = std::min((mbx + 1) * kMacroblock, width_);
      region.qoffset = AVRational{numerator_for_share_[steps_[i]], kOffsetDenominator};
    }
  }
  if (av_frame_new_side_data_from_buf(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST, buffer) == nullptr) {
    av_buffer_unref(&buffer);
    throw Error("muxer: out of memory attaching a picture's quantizer offsets");
  }
}

}  // namespace callrec::muxer
