#include "reuse_weighting.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

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
      intra_sums_(static_cast<size_t>(mb_columns_) * mb_rows_),
      inter_sums_(intra_sums_.size()),
      reuse_(intra_sums_.size(), 0.0f),
      offsets_(intra_sums_.size(), 0.0f) {
  // What the macroblock tree propagates to a block whose share f is reused by each of
  // the next kHorizonPictures pictures, relative to its own intra cost:
  // f + f^2 + ... + f^N; x264's offset is -strength * log2(1 + that). Tabulated: two
  // transcendental calls per block were a fifth of this class's time.
  for (int step = 0; step < kShareSteps; ++step) {
    const double f = std::min(static_cast<double>(step) / (kShareSteps - 1), 0.999);
    const double propagated = f * (1 - std::pow(f, kHorizonPictures)) / (1 - f);
    offset_for_share_[step] = static_cast<float>(-strength * std::log2(1 + propagated));
  }
  side_data_pool_.reset(av_buffer_pool_init(offsets_.size() * sizeof(AVRegionOfInterest), nullptr));
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
    std::fill(offsets_.begin(), offsets_.end(), offset_for_share_[std::lround(kAssumedFirstShare * (kShareSteps - 1))]);
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
      out[x] = static_cast<uint16_t>(top[2 * x] + top[2 * x + 1] + bottom[2 * x] + bottom[2 * x + 1]);
    }
    out[half_width_] = out[half_width_ - 1];  // so the last column's gradient is 0, branch-free
  }
}

void ReuseWeighting::update_estimate() {
  const bool first_estimate = pictures_seen_ == 2;
  std::fill(intra_sums_.begin(), intra_sums_.end(), 0);
  std::fill(inter_sums_.begin(), inter_sums_.end(), 0);
  // Cheap stand-ins for x264's lowres costs, summed per macroblock: intra from the
  // block's gradients, inter from its difference to the same place in the previous
  // picture. Row by row, so the inner loops run over contiguous samples.
  for (int y = 0; y < half_height_; ++y) {
    const uint16_t* row = &half_[static_cast<size_t>(y) * half_stride_];
    const uint16_t* below = y + 1 < half_height_ ? row + half_stride_ : row;
    const uint16_t* before = &previous_half_[static_cast<size_t>(y) * half_stride_];
    int* intra_row = &intra_sums_[static_cast<size_t>(y / kHalfMacroblock) * mb_columns_];
    int* inter_row = &inter_sums_[static_cast<size_t>(y / kHalfMacroblock) * mb_columns_];
    for (int mbx = 0; mbx < mb_columns_; ++mbx) {
      const int x0 = mbx * kHalfMacroblock;
      const int x1 = std::min(x0 + kHalfMacroblock, half_width_);
      int intra = 0;
      int inter = 0;
      for (int x = x0; x < x1; ++x) {
        const int v = row[x];
        intra += std::abs(v - row[x + 1]) + std::abs(v - below[x]);
        inter += std::abs(v - before[x]);
      }
      intra_row[mbx] += intra;
      inter_row[mbx] += inter;
    }
  }
  for (size_t i = 0; i < offsets_.size(); ++i) {
    const double intra = intra_sums_[i] / 8.0 + kIntraCostFloor;
    const double inter = std::min(inter_sums_[i] / 4.0, intra);
    const auto reused_now = static_cast<float>(1.0 - inter / intra);
    reuse_[i] = first_estimate ? reused_now : kNewestWeight * reused_now + (1 - kNewestWeight) * reuse_[i];
    offsets_[i] = offset_for_share_[std::lround(reuse_[i] * (kShareSteps - 1))];
  }
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
      region.qoffset = AVRational{static_cast<int>(std::lround(offsets_[i] * 1000)), kOffsetDenominator};
    }
  }
  if (av_frame_new_side_data_from_buf(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST, buffer) == nullptr) {
    av_buffer_unref(&buffer);
    throw Error("muxer: out of memory attaching a picture's quantizer offsets");
  }
}

}  // namespace callrec::muxer
