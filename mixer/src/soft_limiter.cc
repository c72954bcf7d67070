#include "soft_limiter.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace callrec::mixer {
namespace {
// Release: the gain recovers towards its target by this fraction per subframe
// (1 - exp(-4 ms / 80 ms)).
constexpr float kReleasePerSubframe = 0.0488f;
}  // namespace

float SoftLimiter::knee(float level) {
  if (level <= kThreshold) return level;
  constexpr float span = kCeiling - kThreshold;
  // Slope 1 at the threshold (no kink), asymptote kCeiling.
  return kThreshold + span * std::tanh((level - kThreshold) / span);
}

void SoftLimiter::process(std::span<float> samples) {
  assert(samples.size() % kSubframeSamples == 0);
  float start_gain = gain_;
  for (size_t begin = 0; begin < samples.size(); begin += kSubframeSamples) {
    float* x = samples.data() + begin;
    float peak = 0.0f;
    for (int i = 0; i < kSubframeSamples; ++i) peak = std::max(peak, std::fabs(x[i]));
    const float target = peak > kThreshold ? knee(peak) / peak : 1.0f;
    float end_gain;
    if (target < start_gain) {
      // Attack: the whole subframe must be at or below target. Start there too (a gain
      // step only when the level jumps within 4 ms, where a limiter must act).
      start_gain = target;
      end_gain = target;
    } else {
      end_gain = start_gain + (target - start_gain) * kReleasePerSubframe;
      if (target - end_gain < 1e-6f) end_gain = target;
    }
    if (start_gain == 1.0f && end_gain == 1.0f) {
      start_gain = end_gain;
      continue;  // unity: leave the samples bit-exact
    }
    // Gains are <= target over the subframe, hence |x * g| <= knee(peak) < 1.
    const float step = (end_gain - start_gain) / kSubframeSamples;
    for (int i = 0; i < kSubframeSamples; ++i) {
      const float g = start_gain + step * static_cast<float>(i + 1);
      x[i] = std::clamp(x[i] * std::min(g, std::max(start_gain, end_gain)), -1.0f, 1.0f);
    }
    start_gain = end_gain;
  }
  gain_ = start_gain;
}

}  // namespace callrec::mixer
