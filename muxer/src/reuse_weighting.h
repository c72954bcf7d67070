// Quantizer offsets from how much of each macroblock later pictures will reuse: a
// causal stand-in for x264's macroblock tree, for encoding without a lookahead.
//
// x264's macroblock tree looks ahead to see which blocks later pictures predict from,
// and codes those better: on a conference grid the still, detailed background is coded
// well once and then reused, where without it every picture spends its bits evenly
// and the background is coded over and over. Without a lookahead x264 cannot know the
// future, but a grid's future resembles its past: a block that the last pictures
// reused (their inter cost small against its intra cost) is likely reused by the next
// ones. ReuseWeighting estimates that share per block from the pictures so far, turns
// it into the offset x264's macroblock tree would give a block reused at that rate over
// the next kHorizonPictures, and attaches the offsets to the picture as regions of
// interest, which libx264 adds to its adaptive quantization. The rate control keeps the
// bit rate; only the split between blocks changes.
//
// Threading: used by one thread at a time (the writer's encode worker, with its
// VideoEncoder).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

extern "C" {
struct AVFrame;
struct AVBufferPool;
}

namespace callrec::muxer {

class ReuseWeighting {
 public:
  // How many pictures ahead a reused block is assumed to go on being reused.
  static constexpr int kHorizonPictures = 10;

  // `strength` in QP per doubling of (intra + propagated) cost, as x264's
  // 5 * (1 - qcomp): 2.0 at x264's default qcomp.
  ReuseWeighting(int width, int height, double strength);
  ~ReuseWeighting();
  ReuseWeighting(const ReuseWeighting&) = delete;
  ReuseWeighting& operator=(const ReuseWeighting&) = delete;

  // Updates the estimate with `picture` (yuv420p, the constructor's size) and attaches
  // the offsets as AV_FRAME_DATA_REGIONS_OF_INTEREST side data, replacing any there
  // (VideoEncoder hands them to x264 for reference pictures only). The first picture has
  // nothing to compare with: it gets the offsets of a block reused at
  // kAssumedFirstShare, as most of a grid is a still background, so the first keyframe
  // is coded as well as the pictures after it will keep it (without, they spend the
  // first seconds coding the background again).
  void annotate(AVFrame& picture);

  // The share of each block the first picture is assumed to pass on to the next ones.
  static constexpr float kAssumedFirstShare = 0.9f;

  // The offsets given to the last annotated picture, in QP, one per 16x16 macroblock,
  // row by row.
  std::vector<float> offsets() const;
  int macroblock_columns() const { return mb_columns_; }

 private:
  struct PoolDeleter { void operator()(AVBufferPool* pool) const; };

  void downscale(const AVFrame& picture);
  void update_estimate();
  void attach(AVFrame& picture) const;

  int width_;
  int height_;
  int mb_columns_;
  int mb_rows_;
  int half_width_;
  int half_height_;
  int half_stride_;  // one sample more than half_width_: the last column repeated
  // Luma at half resolution, each sample the sum of a 2x2 block (as x264's lowres
  // planes): averaging away sensor noise before comparing pictures.
  std::vector<uint16_t> half_;
  std::vector<uint16_t> previous_half_;
  int64_t pictures_seen_ = 0;  // 1: half_ holds a picture to compare with; 2: reuse_ too
  // Per half-resolution column, summed over one macroblock row: intra and inter costs.
  std::vector<uint16_t> intra_columns_;
  std::vector<uint16_t> inter_columns_;
  std::vector<float> reuse_;    // smoothed share of each block the next picture reuses
  std::vector<uint16_t> steps_;  // per block: its offset, as an index into the tables below
  static constexpr int kShareSteps = 1024;
  std::array<float, kShareSteps> offset_for_share_;  // offset by reuse share, 0 to 1
  std::array<int, kShareSteps> numerator_for_share_;  // the same in thousandths (the side data's unit)
  std::unique_ptr<AVBufferPool, PoolDeleter> side_data_pool_;
};

}  // namespace callrec::muxer
