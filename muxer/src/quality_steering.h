// The quality the writer asks of the H.264 encoder, picture by picture: constant for
// kQuality, steered from the bits written for kAverageBitrate and kCappedQuality.
//
// Why the writer steers instead of x264's own bit-rate control: x264's ABR without a
// lookahead learns the content's cost from nothing at every encoder start, and a
// keyframe (ten pictures' worth of bits on a still grid) counts against the rate the
// moment it is coded, so the pictures after it are starved and the start of every
// chunk ramps up over seconds (docs/encoder-settings.md). Here one steering serves the
// whole recording, across chunks, and plans with keyframes at their share of the
// keyframe interval.
//
// Model: a picture's bytes halve for every kCrfPerHalving steps of x264's CRF, so
// bytes x 2^(crf / kCrfPerHalving) is the content's cost independent of the quality
// asked. The steering keeps that cost for keyframes and for the other periods (a
// running mean over the last kCostWindowPeriods), and asks for the CRF whose predicted
// bytes per period meet the rate, less a share of what was spent over it so far.
//
// Threading: used by the writer's thread only.
#pragma once

#include <cstdint>

#include "callrec/muxer/recording_writer.h"

namespace callrec::muxer {

class QualitySteering {
 public:
  // CRF steps that halve the bits (measured on the 9-party calls: 3.3 to 4.5).
  static constexpr double kCrfPerHalving = 4.0;
  // The running mean of the cost spans this many periods (10 s).
  static constexpr int kCostWindowPeriods = 80;

  // Throws callrec::Error when the settings' rate or quality is out of range.
  explicit QualitySteering(const EncoderSettings& settings);

  // The x264 CRF for the next picture handed to the encoder.
  double crf() const { return crf_; }

  // A group of pictures was written: `bytes` of video for `pictures` periods, coded at
  // `crf`, holding a keyframe or not.
  void written(uint64_t bytes, int pictures, double crf, bool keyframe);

 private:
  void steer();

  VideoRateControl mode_;
  double quality_crf_;          // kQuality: the CRF; kCappedQuality: the lowest CRF asked
  double target_bytes_;         // per period
  double keyframe_periods_;     // periods between keyframes
  double period_cost_;          // bytes x 2^(crf / kCrfPerHalving), per ordinary period
  double keyframe_cost_;        // the same, per keyframe
  double period_weight_;        // periods the period cost stands for (capped at the window)
  int keyframes_seen_ = 0;
  double debt_bytes_ = 0;       // written - target so far (kCappedQuality: never below 0)
  double unspread_keyframe_bytes_ = 0;    // keyframe bytes not yet counted in the debt
  double keyframe_bytes_per_period_ = 0;  // counted each period until the next keyframe
  double crf_;
  bool started_ = false;  // crf_ was set by steer() once
};

}  // namespace callrec::muxer
