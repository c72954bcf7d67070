#include "quality_steering.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "callrec/core/error.h"

namespace callrec::muxer {
namespace {

constexpr double kMaxCrf = 51;
// Steered, the CRF stays above 0, which x264 takes for lossless (another profile).
constexpr double kMinSteeredCrf = 1;
// Before anything is written: the 9-party talking grid's cost (17.9 kB a period at CRF
// 30, about 1.1 Mbit/s), standing for one second of periods, and a keyframe as ten
// periods. The first written groups replace it within a second or two.
constexpr double kPriorBytesPerPeriod = 17'900;
constexpr double kPriorCrf = 30;
constexpr double kPriorWeightPeriods = 8;
constexpr double kPriorKeyframeToPeriod = 10;
// kAverageBitrate pays back what was spent over the rate within about 30 s; a
// kCappedQuality overshoot (of the ceiling, never banked under it) within about 2 s.
constexpr double kAverageDebtPeriods = 240;
constexpr double kCappedDebtPeriods = 16;
// kCappedQuality aims a little under the ceiling, so the VBV buffer refills after a
// keyframe and x264's own cap rarely has to act (it would act on one picture alone).
constexpr double kCappedAim = 0.95;
// A keyframe's cost follows the last few keyframes.
constexpr double kKeyframeWeight = 0.5;
// The CRF moves at most this much per written group (a period, or three with B-frames):
// the model (bits halve every 4 steps) fails on content whose bits hardly follow the
// quality (noise near the top of the scale), and a wild step there would make a wild
// picture.
constexpr double kMaxCrfStep = 1.0;

double cost(double bytes, double crf) { return bytes * std::exp2(crf / QualitySteering::kCrfPerHalving); }

}  // namespace

QualitySteering::QualitySteering(const EncoderSettings& settings)
    : mode_(settings.video_rate_control),
      quality_crf_(settings.video_quality),
      target_bytes_(static_cast<double>(settings.video_bitrate_bps) / 8 / kFrameRate),
      keyframe_periods_(static_cast<double>(settings.keyframe_interval_s) * kFrameRate),
      period_cost_(cost(kPriorBytesPerPeriod, kPriorCrf)),
      keyframe_cost_(kPriorKeyframeToPeriod * period_cost_),
      period_weight_(kPriorWeightPeriods),
      crf_(quality_crf_) {
  if (settings.video_quality < 0 || settings.video_quality > kMaxCrf) {
    throw Error("muxer: video quality must be 0 to 51, got " + std::to_string(settings.video_quality));
  }
  if (mode_ != VideoRateControl::kQuality && settings.video_bitrate_bps <= 0) {
    throw Error("muxer: video bit rate must be positive, got " + std::to_string(settings.video_bitrate_bps));
  }
  if (mode_ == VideoRateControl::kCappedQuality) target_bytes_ *= kCappedAim;
  steer();
}

void QualitySteering::written(uint64_t bytes, int pictures, double crf, bool keyframe) {
  if (mode_ == VideoRateControl::kQuality || pictures <= 0) return;
  const double written_bytes = static_cast<double>(bytes);
  // kAverageBitrate plans a keyframe at its share of the interval (steer()), so its
  // bytes count against the rate the same way: spread over the periods up to the next
  // one. Counted at once they were paid back twice (by the plan and by the debt),
  // holding the quality down after each keyframe and letting it climb through the
  // interval. (kCappedQuality counts them at once: its VBV buffer must refill.)
  double charged = written_bytes;
  if (keyframe && mode_ == VideoRateControl::kAverageBitrate) {
    unspread_keyframe_bytes_ += written_bytes;
    keyframe_bytes_per_period_ = unspread_keyframe_bytes_ / keyframe_periods_;
    charged = 0;
  }
  const double spread = std::min(unspread_keyframe_bytes_, keyframe_bytes_per_period_ * pictures);
  unspread_keyframe_bytes_ -= spread;
  debt_bytes_ += charged + spread - target_bytes_ * pictures;
  if (mode_ == VideoRateControl::kCappedQuality) debt_bytes_ = std::max(0.0, debt_bytes_);
  const double group_cost = cost(written_bytes, crf);
  if (keyframe) {
    // The keyframe's group (with fixed picture types, the keyframe alone).
    keyframe_cost_ = keyframes_seen_++ == 0 ? group_cost
                                             : kKeyframeWeight * group_cost + (1 - kKeyframeWeight) * keyframe_cost_;
  } else {
    // A running mean over the window: the prior weighs as its periods, the newest
    // periods replace the oldest once the window is full.
    const double weight = std::min<double>(kCostWindowPeriods, period_weight_ + pictures);
    period_cost_ += (group_cost / pictures - period_cost_) * pictures / weight;
    period_weight_ = weight;
  }
  steer();
}

void QualitySteering::steer() {
  if (mode_ == VideoRateControl::kQuality) return;
  // Bytes per period at CRF 0: the periods' cost, and the keyframes' at their share.
  const double per_period = (keyframe_cost_ + period_cost_ * (keyframe_periods_ - 1)) / keyframe_periods_;
  double aim = target_bytes_;
  if (mode_ == VideoRateControl::kAverageBitrate) {
    aim = std::clamp(target_bytes_ - debt_bytes_ / kAverageDebtPeriods, target_bytes_ / 2, target_bytes_ * 2);
  } else {
    aim = std::max(target_bytes_ / 4, target_bytes_ - debt_bytes_ / kCappedDebtPeriods);
  }
  double crf = kCrfPerHalving * std::log2(per_period / aim);
  if (mode_ == VideoRateControl::kCappedQuality) crf = std::max(crf, quality_crf_);
  crf = std::clamp(crf, kMinSteeredCrf, kMaxCrf);
  crf_ = started_ ? std::clamp(crf, crf_ - kMaxCrfStep, crf_ + kMaxCrfStep) : crf;
  started_ = true;
}

}  // namespace callrec::muxer
