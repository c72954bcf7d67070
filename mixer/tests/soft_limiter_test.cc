#include "soft_limiter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace callrec::mixer {
namespace {

TEST(SoftLimiterTest, KneeIsIdentityBelowThresholdSmoothAndBounded) {
  EXPECT_EQ(SoftLimiter::knee(0.25f), 0.25f);
  EXPECT_EQ(SoftLimiter::knee(SoftLimiter::kThreshold), SoftLimiter::kThreshold);
  // Slope ~1 just above the threshold: no kink.
  const float t = SoftLimiter::kThreshold;
  EXPECT_NEAR((SoftLimiter::knee(t + 1e-3f) - SoftLimiter::knee(t)) / 1e-3f, 1.0f, 0.01f);
  float previous = 0.0f;
  for (float level = 0.0f; level < 100.0f; level += 0.01f) {
    const float y = SoftLimiter::knee(level);
    ASSERT_GE(y, previous) << "monotonic at " << level;
    ASSERT_LE(y, SoftLimiter::kCeiling) << level;
    previous = y;
  }
}

TEST(SoftLimiterTest, SuddenLoudBurstNeverExceedsFullScaleAndGainRecoversSmoothly) {
  SoftLimiter limiter;
  std::vector<float> block(1024);
  float peak = 0.0f;
  float max_gain_step = 0.0f;
  float previous_gain = 1.0f;
  for (int b = 0; b < 200; ++b) {
    const float amplitude = (b >= 20 && b < 40) ? 8.0f : 0.3f;
    for (int i = 0; i < 1024; ++i) {
      block[static_cast<size_t>(i)] =
          amplitude * static_cast<float>(std::sin(2 * std::numbers::pi * 440 * (b * 1024 + i) / 16000));
    }
    limiter.process(block);
    for (float v : block) peak = std::max(peak, std::fabs(v));
    if (b > 40) max_gain_step = std::max(max_gain_step, limiter.current_gain() - previous_gain);
    previous_gain = limiter.current_gain();
  }
  EXPECT_LE(peak, 1.0f);
  EXPECT_EQ(limiter.current_gain(), 1.0f) << "released back to unity";
  EXPECT_LT(max_gain_step, 0.6f) << "release is gradual over several frames";
}

}  // namespace
}  // namespace callrec::mixer
