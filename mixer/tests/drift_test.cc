// MixerConfig::drift_correction: a source whose clock runs +-500 ppm against the call
// clock, simulated for a whole hour (as fast as the CPU allows).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <vector>

#include "callrec/mixer/audio_mixer.h"
#include "test_signals.h"

namespace callrec::mixer {
namespace {

// Placement error of a 10 Hz tone at the window [from, from + 16000), in milliseconds:
// its measured phase against the phase the source sample due at that call time had.
// Unambiguous within +-50 ms.
double placement_error_ms(std::span<const float> window, int64_t from, double source_samples_per_call_sample) {
  constexpr double kF = 10.0;
  const double f_out = kF * source_samples_per_call_sample;
  double c = 0.0, s = 0.0;
  for (size_t i = 0; i < window.size(); ++i) {
    const double w = 2 * std::numbers::pi * f_out * static_cast<double>(i) / 16000.0;
    c += window[i] * std::cos(w);
    s += window[i] * std::sin(w);
  }
  const double measured = std::atan2(c, s);  // phase of the sine at window start
  const double expected = 2 * std::numbers::pi * kF * static_cast<double>(from) * source_samples_per_call_sample / 16000.0;
  double d = std::remainder(measured - expected, 2 * std::numbers::pi);
  return -d / (2 * std::numbers::pi * kF) * 1000.0;
}

class DriftTest : public ::testing::TestWithParam<int> {};

TEST_P(DriftTest, SourceClockOffsetIsAbsorbedForAnHourWithoutClicks) {
  const double ppm = GetParam();
  AudioMixer mixer(MixerConfig{.max_talkers = std::nullopt, .drift_correction = true});
  const SourceId id = mixer.add_source("drifting");
  const AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  constexpr int kFrame = 320;  // 20 ms of the source's own clock
  constexpr double kAmplitude = 0.5;
  // Source sample n is taken at call time n / (16000 * (1 + ppm)) (its clock runs fast
  // for ppm > 0: more timestamp time passes per sample than nominal).
  const double call_per_source = 1.0 + ppm * 1e-6;
  const auto signal = testing::sine(10.0, kAmplitude, 16000);
  const int64_t frames = 3600LL * 16000 / kFrame;
  std::array<float, kFrameSamples> out{};
  float previous = 0.0f;
  double max_step = 0.0;
  double worst_error_ms = 0.0;
  std::vector<float> window;
  int64_t window_from = -1;
  int64_t next_checkpoint = 16000;  // after the first second, then every ten minutes
  int checkpoints = 0;
  auto frame = testing::make_frame(16000, mono, AV_SAMPLE_FMT_FLT, kFrame, 0, signal);
  for (int64_t k = 0; k < frames; ++k) {
    // Refill the frame's samples in place (no per-frame allocation in the test either).
    auto* data = reinterpret_cast<float*>(frame->data[0]);
    for (int i = 0; i < kFrame; ++i) data[i] = static_cast<float>(signal(k * kFrame + i));
    const auto t_us = static_cast<int64_t>(std::llround(static_cast<double>(k * kFrame) * 62.5 * call_per_source));
    mixer.push(id, *frame, MediaTime::from_us(t_us));
    while (mixer.buffered_until(id) >= mixer.next_sample() + kFrameSamples) {
      const int64_t at = mixer.next_sample();
      mixer.mix(out);
      for (float v : out) {
        if (at > 0) max_step = std::max(max_step, static_cast<double>(std::fabs(v - previous)));
        previous = v;
      }
      // A one-second measuring window every ten minutes, the last one at the very end.
      if (window_from < 0 && at >= next_checkpoint) {
        window_from = at;
        window.clear();
      }
      if (window_from >= 0) {
        window.insert(window.end(), out.begin(), out.end());
        if (window.size() >= 16000) {
          const double err = placement_error_ms(std::span<const float>(window).first(16000), window_from,
                                                1.0 / call_per_source);
          worst_error_ms = std::max(worst_error_ms, std::fabs(err));
          ++checkpoints;
          std::printf("%+4.0f ppm, t=%5.0f s: placement error %+.2f ms\n", ppm,
                      static_cast<double>(window_from) / 16000.0, err);
          window_from = -1;
          next_checkpoint = std::min(next_checkpoint + 600LL * 16000, 3596LL * 16000);
          if (at >= 3596LL * 16000) next_checkpoint = std::numeric_limits<int64_t>::max();
        }
      }
    }
  }
  EXPECT_EQ(checkpoints, 7);
  EXPECT_LT(worst_error_ms, 20.0);
  // A 10 Hz sine at 0.5 moves at most 2*pi*10/16000*0.5 = 0.002 per sample; a cut or an
  // inserted stretch would step far more than that.
  EXPECT_LT(max_step, 0.0025) << "no clicks";
  const SourceStats st = mixer.stats(id);
  EXPECT_EQ(st.gaps_filled, 0);
  EXPECT_EQ(st.samples_dropped_late, 0);
  const double expected_correction = 3600.0 * 16000.0 * ppm * 1e-6;
  EXPECT_NEAR(static_cast<double>(st.drift_corrected_samples), expected_correction, 0.05 * std::fabs(expected_correction) + 64);
}

INSTANTIATE_TEST_SUITE_P(Ppm, DriftTest, ::testing::Values(500, -500));

}  // namespace
}  // namespace callrec::mixer
