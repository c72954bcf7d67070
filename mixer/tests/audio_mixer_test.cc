#include "callrec/mixer/audio_mixer.h"
#include "soft_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "test_signals.h"

namespace callrec::mixer {
namespace {

using testing::goertzel_amplitude;
using testing::make_frame;
using testing::sine;
using testing::to_db;

const AVChannelLayout kMono = AV_CHANNEL_LAYOUT_MONO;
const AVChannelLayout kStereo = AV_CHANNEL_LAYOUT_STEREO;
const AVChannelLayout k51 = AV_CHANNEL_LAYOUT_5POINT1;

// Pushes `duration_samples` of `signal` starting at call time `start_us`, in frames of
// `frame_samples`, with timestamps rounded to whole milliseconds as containers do.
void push_signal(AudioMixer& mixer, SourceId id, int rate_hz, const AVChannelLayout& layout, AVSampleFormat format,
                 int64_t start_us, int64_t duration_samples, int frame_samples,
                 const std::function<double(int64_t)>& signal, bool round_to_ms = true) {
  for (int64_t done = 0; done < duration_samples; done += frame_samples) {
    const int n = static_cast<int>(std::min<int64_t>(frame_samples, duration_samples - done));
    auto frame = make_frame(rate_hz, layout, format, n, done, signal);
    const int64_t t_us = start_us + done * 1'000'000 / rate_hz;
    const MediaTime t = round_to_ms ? MediaTime::from_ms((t_us + 500) / 1000) : MediaTime::from_us(t_us);
    mixer.push(id, *frame, t);
  }
}

// Mixes until next_sample() >= `until`; returns everything mixed from the start.
std::vector<float> mix_until(AudioMixer& mixer, int64_t until, std::vector<float> out = {}) {
  std::array<float, kFrameSamples> frame{};
  while (mixer.next_sample() < until) {
    mixer.mix(frame);
    out.insert(out.end(), frame.begin(), frame.end());
  }
  return out;
}

// First index in [from, to) where |x| exceeds `level`.
std::optional<int64_t> first_above(std::span<const float> x, int64_t from, int64_t to, float level) {
  for (int64_t i = std::max<int64_t>(from, 0); i < std::min<int64_t>(to, std::ssize(x)); ++i) {
    if (std::fabs(x[static_cast<size_t>(i)]) > level) return i;
  }
  return std::nullopt;
}

std::span<const float> window(const std::vector<float>& x, int64_t from, int64_t count) {
  return std::span<const float>(x).subspan(static_cast<size_t>(from), static_cast<size_t>(count));
}

class PlacementTest : public ::testing::TestWithParam<int> {};

TEST_P(PlacementTest, FirstSampleHeardAtItsTimestamp) {
  const int rate = GetParam();
  AudioMixer mixer;
  const SourceId ada = mixer.add_source("ada");
  // 1 kHz from phase 0: |x| passes half amplitude 83 us after onset.
  push_signal(mixer, ada, rate, kStereo, AV_SAMPLE_FMT_S16, 3'217'000, rate, rate / 50, sine(1000, 0.25, rate));
  const auto out = mix_until(mixer, 5 * kOutputRateHz);
  const int64_t expected = 3217 * kOutputRateHz / 1000;
  const auto onset = first_above(out, 0, std::ssize(out), 0.125f);
  ASSERT_TRUE(onset.has_value());
  EXPECT_NEAR(static_cast<double>(*onset), static_cast<double>(expected), 16.0) << "±1 ms at 16 kHz";
  // Nothing audible before the onset (no resampler pre-ringing worth hearing).
  for (int64_t i = 0; i < expected - 32; ++i) ASSERT_LT(std::fabs(out[static_cast<size_t>(i)]), 1e-3f) << i;
  EXPECT_NEAR(goertzel_amplitude(window(out, expected + 800, 8000), 1000), 0.25, 0.25 * 0.012);
}

// Up to the highest rate a file may have (MediaInput's limit, 384 kHz): the placement
// arithmetic counts 16 kHz ticks per input sample, past an int above 134 kHz.
INSTANTIATE_TEST_SUITE_P(Rates, PlacementTest,
                         ::testing::Values(8000, 16000, 22050, 44100, 48000, 96000, 192000, 270144, 384000));

struct FormatCase {
  int rate;
  const AVChannelLayout* layout;
  AVSampleFormat format;
};

class FormatMatrixTest : public ::testing::TestWithParam<FormatCase> {};

TEST_P(FormatMatrixTest, ConvertsToSixteenKilohertzMonoAtTheRightTimeAndLevel) {
  const FormatCase c = GetParam();
  AudioMixer mixer;
  const SourceId id = mixer.add_source("bob");
  constexpr double kAmplitude = 0.25;
  push_signal(mixer, id, c.rate, *c.layout, c.format, 500'000, c.rate, 1024, sine(1000, kAmplitude, c.rate));
  // The resampler may still hold back up to 2 ms, released by flush().
  EXPECT_GE(mixer.buffered_until(id), 24000 - 32);
  mixer.flush(id);
  EXPECT_NEAR(static_cast<double>(mixer.buffered_until(id)), 24000.0, 1.0);
  const auto out = mix_until(mixer, 2 * kOutputRateHz);
  const auto onset = first_above(out, 0, std::ssize(out), kAmplitude / 2);
  ASSERT_TRUE(onset.has_value());
  EXPECT_NEAR(static_cast<double>(*onset), 8000.0, 16.0);
  const double level = goertzel_amplitude(window(out, 9600, 12800), 1000);
  EXPECT_NEAR(to_db(level / kAmplitude), 0.0, 0.2) << "downmix keeps the level of a tone in every channel";
  // Nothing but the tone: total energy matches the tone's.
  double energy = 0.0;
  for (float v : window(out, 9600, 12800)) energy += double{v} * v;
  EXPECT_NEAR(std::sqrt(2.0 * energy / 12800), level, 0.01);
  const SourceStats st = mixer.stats(id);
  EXPECT_NEAR(static_cast<double>(st.samples_received), 16000.0, 1.0);
  EXPECT_EQ(st.gaps_filled, 0);
}

std::vector<FormatCase> all_formats() {
  std::vector<FormatCase> cases;
  for (int rate : {8000, 16000, 44100, 48000}) {
    for (const AVChannelLayout* layout : {&kMono, &kStereo, &k51}) {
      for (AVSampleFormat f :
           {AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_S32}) {
        cases.push_back({rate, layout, f});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(All, FormatMatrixTest, ::testing::ValuesIn(all_formats()),
                         [](const ::testing::TestParamInfo<FormatCase>& info) {
                           return std::to_string(info.param.rate) + "Hz_" +
                                  std::to_string(info.param.layout->nb_channels) + "ch_" +
                                  av_get_sample_fmt_name(info.param.format);
                         });

TEST(AudioMixerTest, ThousandRandomGapsKeepPlacementWithinOneMillisecond) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("cyd");
  constexpr int kRate = 44100;  // 1024-sample frames: 23.22 ms, timestamps rounded to 1 ms
  constexpr int64_t kBurstSamples = 4410;  // 100 ms: whole periods of 1 kHz
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int64_t> gap_ms(20, 2000);
  std::vector<int64_t> starts_ms{100};
  for (int i = 0; i < 1000; ++i) starts_ms.push_back(starts_ms.back() + 100 + gap_ms(rng));
  auto push_burst = [&](int64_t ms) {
    push_signal(mixer, id, kRate, kMono, AV_SAMPLE_FMT_FLT, ms * 1000, kBurstSamples, 1024, sine(1000, 0.5, kRate));
  };
  // Recent output only (a ~1100 s timeline would not fit comfortably in memory).
  std::vector<float> recent;
  int64_t recent_start = 0;
  std::array<float, kFrameSamples> frame{};
  double worst_onset = 0.0, worst_end = 0.0;
  push_burst(starts_ms[0]);
  for (size_t b = 0; b < starts_ms.size(); ++b) {
    // The next burst is pushed before this one is mixed, as a reader running ahead does.
    if (b + 1 < starts_ms.size()) push_burst(starts_ms[b + 1]);
    else mixer.flush(id);  // the last burst: release what the resampler holds back
    const int64_t begin = starts_ms[b] * 16;
    const int64_t end = begin + 1600;
    while (mixer.next_sample() < end + 160) {
      if (mixer.next_sample() + kFrameSamples < begin - 320) {
        mixer.mix(frame);
        recent.clear();
        recent_start = mixer.next_sample();
        continue;
      }
      mixer.mix(frame);
      recent.insert(recent.end(), frame.begin(), frame.end());
    }
    const int64_t local_begin = begin - recent_start;
    const auto onset = first_above(recent, local_begin - 160, local_begin + 160, 0.25f);
    ASSERT_TRUE(onset) << "burst " << b;
    worst_onset = std::max(worst_onset, std::fabs(static_cast<double>(*onset - local_begin)));
    // Last sample above half amplitude: 1/12 period (1.3 samples) before the end.
    int64_t last = end - recent_start + 160;
    while (last > 0 && std::fabs(recent[static_cast<size_t>(last)]) <= 0.25f) --last;
    const double end_error = static_cast<double>(last + 1 - (end - recent_start)) + 1.33;
    if (std::getenv("MIXER_DEBUG")) std::printf("burst %zu end error %.2f\n", b, end_error);
    worst_end = std::max(worst_end, std::fabs(end_error));
  }
  EXPECT_LE(worst_onset, 16.0);
  EXPECT_LE(worst_end, 16.0);
  const SourceStats st = mixer.stats(id);
  EXPECT_EQ(st.gaps_filled, 1000);
  EXPECT_EQ(st.samples_dropped_late, 0);
  std::printf("worst onset error %.0f samples, worst end error %.0f samples (16 = 1 ms)\n", worst_onset, worst_end);
}

TEST(AudioMixerTest, OverlapIsTrimmedSoEarlierAudioWins) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("dan");
  // 1 s of 1 kHz from 0, then 200 ms of 2 kHz claiming to start at 0.9 s.
  push_signal(mixer, id, 16000, kMono, AV_SAMPLE_FMT_FLT, 0, 16000, 320, sine(1000, 0.25, 16000));
  auto frame = make_frame(16000, kMono, AV_SAMPLE_FMT_FLT, 3200, 0, sine(2000, 0.25, 16000));
  mixer.push(id, *frame, MediaTime::from_ms(900));
  EXPECT_EQ(mixer.buffered_until(id), 16000 + 1600);
  const auto out = mix_until(mixer, 20000);
  EXPECT_NEAR(goertzel_amplitude(window(out, 14400, 1600), 1000), 0.25, 0.01);
  EXPECT_LT(goertzel_amplitude(window(out, 14400, 1600), 2000), 0.005);
  EXPECT_NEAR(goertzel_amplitude(window(out, 16000, 1600), 2000), 0.25, 0.01);
  EXPECT_LT(goertzel_amplitude(window(out, 16000, 1600), 1000), 0.005);
  EXPECT_EQ(mixer.stats(id).samples_received, 16000 + 1600);
  EXPECT_EQ(mixer.stats(id).gaps_filled, 0);
}

TEST(AudioMixerTest, LateAudioIsDroppedAndCounted) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("eve");
  std::vector<float> out = mix_until(mixer, 16384);  // 1.024 s mixed, nothing pushed
  push_signal(mixer, id, 16000, kMono, AV_SAMPLE_FMT_FLT, 500'000, 16000, 320, sine(1000, 0.25, 16000));
  const SourceStats st = mixer.stats(id);
  EXPECT_EQ(st.samples_received, 16000);
  EXPECT_EQ(st.samples_dropped_late, 16384 - 8000);
  EXPECT_EQ(st.samples_mixed, st.samples_received - st.samples_dropped_late);
  EXPECT_EQ(mixer.buffered_until(id), 24000);
  out = mix_until(mixer, 16384 + 8192, std::move(out));
  // The part that was still in time is heard where it belongs.
  EXPECT_NEAR(goertzel_amplitude(window(out, 16384, 7616 - 16 * 6), 1000), 0.25, 0.01);
}

TEST(AudioMixerTest, ReadAheadGrowsTheBufferAndKeepsAudio) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("fay");
  // Five seconds pushed before anything is mixed.
  push_signal(mixer, id, 48000, kMono, AV_SAMPLE_FMT_FLTP, 0, 5 * 48000, 960, sine(440, 0.25, 48000), false);
  EXPECT_GE(mixer.buffered_until(id), 5 * 16000 - 32);  // the resampler holds back a few samples
  const auto out = mix_until(mixer, 5 * 16000 - 1024);
  for (int s = 0; s < 4; ++s) {
    EXPECT_NEAR(goertzel_amplitude(window(out, s * 16000 + 1000, 14000), 440), 0.25, 0.005) << "second " << s;
  }
}

TEST(AudioMixerTest, GapStatsCountSilenceFill) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("gus");
  push_signal(mixer, id, 16000, kMono, AV_SAMPLE_FMT_S16, 0, 16000, 320, sine(500, 0.25, 16000));
  push_signal(mixer, id, 16000, kMono, AV_SAMPLE_FMT_S16, 1'500'000, 16000, 320, sine(500, 0.25, 16000));
  // A jittered frame boundary (1 ms late) is still contiguous.
  push_signal(mixer, id, 16000, kMono, AV_SAMPLE_FMT_S16, 2'501'000, 16000, 320, sine(500, 0.25, 16000));
  const SourceStats st = mixer.stats(id);
  EXPECT_EQ(st.gaps_filled, 1);
  EXPECT_EQ(st.samples_concealed, 8000);
  EXPECT_EQ(st.samples_received, 48000);
  EXPECT_EQ(mixer.buffered_until(id), 56000);
  const auto out = mix_until(mixer, 57344);
  EXPECT_LT(goertzel_amplitude(window(out, 16100, 7800), 500), 1e-4);
  EXPECT_EQ(mixer.stats(id).samples_mixed, 48000);
}

TEST(AudioMixerTest, FormatChangeMidStreamStaysContiguous) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("hal");
  push_signal(mixer, id, 48000, kStereo, AV_SAMPLE_FMT_FLTP, 0, 48000, 960, sine(1000, 0.25, 48000), false);
  push_signal(mixer, id, 16000, kMono, AV_SAMPLE_FMT_S16, 1'000'000, 16000, 320, sine(1000, 0.25, 16000), false);
  EXPECT_EQ(mixer.stats(id).gaps_filled, 0);
  EXPECT_EQ(mixer.buffered_until(id), 32000);
  const auto out = mix_until(mixer, 32000);
  EXPECT_NEAR(goertzel_amplitude(window(out, 15000, 2000), 1000), 0.25, 0.01);
}

TEST(AudioMixerTest, SumsSourcesAndLimiterLeavesNormalTalkerUntouched) {
  AudioMixer mixer;
  const SourceId a = mixer.add_source("a");
  const SourceId b = mixer.add_source("b");
  push_signal(mixer, a, 16000, kMono, AV_SAMPLE_FMT_FLT, 0, 32000, 320, sine(440, 0.251, 16000));  // -12 dBFS
  push_signal(mixer, b, 16000, kMono, AV_SAMPLE_FMT_FLT, 1'000'000, 16000, 320, sine(1300, 0.1, 16000));
  const auto out = mix_until(mixer, 32768);
  EXPECT_NEAR(to_db(goertzel_amplitude(window(out, 0, 16000), 440) / 0.251), 0.0, 0.1);
  EXPECT_NEAR(to_db(goertzel_amplitude(window(out, 16000, 16000), 440) / 0.251), 0.0, 0.1);
  EXPECT_NEAR(to_db(goertzel_amplitude(window(out, 16000, 16000), 1300) / 0.1), 0.0, 0.1);
  // Below the limiter threshold the signal is passed bit-exact.
  for (int i = 0; i < 16000; ++i) {
    ASSERT_EQ(out[static_cast<size_t>(i)], static_cast<float>(0.251 * std::sin(2 * std::numbers::pi * 440 * i / 16000)));
  }
}

TEST(AudioMixerTest, NineSourcesAtFullScaleNeverClip) {
  AudioMixer mixer;
  std::vector<SourceId> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(mixer.add_source("p" + std::to_string(i)));
  // Worst case first: all in phase at 0 dBFS; then nine different tones.
  for (int i = 0; i < 9; ++i) {
    push_signal(mixer, ids[static_cast<size_t>(i)], 48000, kMono, AV_SAMPLE_FMT_FLT, 0, 2 * 48000, 960,
                sine(300, 1.0, 48000), false);
    push_signal(mixer, ids[static_cast<size_t>(i)], 48000, kMono, AV_SAMPLE_FMT_FLT, 2'000'000, 2 * 48000, 960,
                sine(200 + 170 * i, 1.0, 48000), false);
  }
  const auto out = mix_until(mixer, 4 * 16000 - 1024);
  float peak = 0.0f;
  for (float v : out) peak = std::max(peak, std::fabs(v));
  EXPECT_LE(peak, SoftLimiter::kCeiling * 1.0001f);
  EXPECT_GT(peak, 0.95f * SoftLimiter::kCeiling) << "the limiter should not squash far below its ceiling";
}

TEST(AudioMixerTest, MaxTalkersMixesOnlyTheLoudest) {
  AudioMixer mixer(MixerConfig{.max_talkers = 2});
  const double levels[] = {0.05, 0.2, 0.02, 0.15};
  const double freqs[] = {500, 900, 1500, 2300};
  for (int i = 0; i < 4; ++i) {
    const SourceId id = mixer.add_source("t" + std::to_string(i));
    push_signal(mixer, id, 16000, kMono, AV_SAMPLE_FMT_FLT, 0, 16000, 320, sine(freqs[i], levels[i], 16000));
  }
  const auto out = mix_until(mixer, 15360);
  const auto w = window(out, 1024, 8192);
  EXPECT_NEAR(goertzel_amplitude(w, 900), 0.2, 0.005);
  EXPECT_NEAR(goertzel_amplitude(w, 2300), 0.15, 0.005);
  EXPECT_LT(goertzel_amplitude(w, 500), 1e-3);
  EXPECT_LT(goertzel_amplitude(w, 1500), 1e-3);
}

TEST(AudioMixerTest, RemovedSourceStopsContributingAndRejectsPushes) {
  AudioMixer mixer;
  const SourceId a = mixer.add_source("ivy");
  push_signal(mixer, a, 16000, kMono, AV_SAMPLE_FMT_FLT, 0, 32000, 320, sine(700, 0.25, 16000));
  auto out = mix_until(mixer, 8192);
  mixer.remove_source(a);
  out = mix_until(mixer, 16384, std::move(out));
  EXPECT_NEAR(goertzel_amplitude(window(out, 0, 8192), 700), 0.25, 0.01);
  EXPECT_LT(goertzel_amplitude(window(out, 8192, 8192), 700), 1e-6);
  auto frame = make_frame(16000, kMono, AV_SAMPLE_FMT_FLT, 320, 0, sine(700, 0.25, 16000));
  EXPECT_THROW(mixer.push(a, *frame, MediaTime::from_ms(2000)), Error);
  EXPECT_THROW(mixer.stats(99), Error);
}

TEST(AudioMixerTest, UnconvertibleFrameThrowsNamingTheSource) {
  AudioMixer mixer;
  const SourceId a = mixer.add_source("jon");
  auto frame = make_frame(16000, kMono, AV_SAMPLE_FMT_FLT, 320, 0, sine(700, 0.25, 16000));
  frame->sample_rate = 0;
  try {
    mixer.push(a, *frame, MediaTime::from_ms(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("jon"), std::string::npos) << e.what();
  }
}

// Channel counts without a standard layout (9, 32, 63, 64: a decoder or a backend that
// only counts channels) are mixed with every channel at the same weight, so a tone in
// every channel keeps its level and one in a single channel is 1/n of it.
TEST(AudioMixerTest, AnyChannelCountUpToSixtyFourIsMixedAtItsLevel) {
  for (const int n : {9, 32, 63, 64}) {
    AudioMixer mixer;
    const SourceId all = mixer.add_source("all");
    const AVChannelLayout unspec{.order = AV_CHANNEL_ORDER_UNSPEC, .nb_channels = n, .u = {.mask = 0}};
    push_signal(mixer, all, 48000, unspec, AV_SAMPLE_FMT_FLTP, 0, 48000, 960, sine(1000, 0.25, 48000));
    const auto out = mix_until(mixer, kOutputRateHz);
    EXPECT_NEAR(to_db(goertzel_amplitude(window(out, 1600, 12800), 1000) / 0.25), 0.0, 0.2) << n << " channels";
  }
  AudioMixer mixer;
  const SourceId one = mixer.add_source("one");
  const AVChannelLayout nine{.order = AV_CHANNEL_ORDER_UNSPEC, .nb_channels = 9, .u = {.mask = 0}};
  auto frame = make_frame(48000, nine, AV_SAMPLE_FMT_FLTP, 48000, 0, sine(1000, 0.45, 48000));
  for (int c = 1; c < 9; ++c) std::fill_n(reinterpret_cast<float*>(frame->extended_data[c]), 48000, 0.0f);
  mixer.push(one, *frame, MediaTime::from_ms(0));
  const auto out = mix_until(mixer, kOutputRateHz);
  EXPECT_NEAR(goertzel_amplitude(window(out, 1600, 12800), 1000), 0.05, 0.002) << "one channel of nine";
}

// One source sending NaN, infinities and absurd levels in float audio must not poison
// the mix: those samples are silenced or clamped (and counted) before the resampler and
// the limiter, whose state would otherwise carry them to everyone for good.
TEST(AudioMixerTest, NonFiniteFloatAudioCostsOnlyItsOwnSamples) {
  for (const AVSampleFormat format : {AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_DBL}) {
    AudioMixer mixer;
    const SourceId good = mixer.add_source("good");
    const SourceId bad = mixer.add_source("bad");
    push_signal(mixer, good, 48000, kMono, AV_SAMPLE_FMT_FLT, 0, 96000, 960, sine(1000, 0.25, 48000), false);
    int64_t poisoned = 0;
    for (int64_t at = 0; at < 96000; at += 960) {
      auto frame = make_frame(48000, kStereo, format, 960, at, sine(300, 0.25, 48000));
      const bool planar = av_sample_fmt_is_planar(format);
      for (int i = 0; i < 960; i += 7) {
        const double v = i % 3 == 0 ? std::nan("") : i % 3 == 1 ? INFINITY : -INFINITY;
        if (format == AV_SAMPLE_FMT_DBL) {
          reinterpret_cast<double*>(frame->extended_data[0])[2 * i] = v;
        } else {
          reinterpret_cast<float*>(frame->extended_data[0])[planar ? i : 2 * i] = static_cast<float>(v);
        }
        ++poisoned;
      }
      mixer.push(bad, *frame, MediaTime::from_us(at * 1'000'000 / 48000));
    }
    const auto out = mix_until(mixer, 2 * kOutputRateHz);
    for (const float v : out) ASSERT_TRUE(std::isfinite(v) && v >= -1.0f && v <= 1.0f);
    EXPECT_NEAR(to_db(goertzel_amplitude(window(out, 8000, 16000), 1000) / 0.25), 0.0, 0.5)
        << av_get_sample_fmt_name(format) << ": the good source is heard as it was";
    EXPECT_EQ(mixer.stats(bad).samples_invalid, poisoned);
    EXPECT_EQ(mixer.stats(good).samples_invalid, 0);
  }
  // Absurd levels are clamped to +6 dBFS (the limiter then does what it does for any
  // loud talker) and counted.
  AudioMixer mixer;
  const SourceId loud = mixer.add_source("loud");
  auto frame = make_frame(48000, kMono, AV_SAMPLE_FMT_FLT, 960, 0, [](int64_t i) { return i % 2 ? 1e30 : -3e38; });
  mixer.push(loud, *frame, MediaTime::from_ms(0));
  for (const float v : mix_until(mixer, kOutputRateHz)) ASSERT_TRUE(std::isfinite(v) && v >= -1.0f && v <= 1.0f);
  EXPECT_EQ(mixer.stats(loud).samples_invalid, 960);
}

// Beyond 64 channels (libswresample's limit) a frame is refused, naming the source, and
// the source goes on with its next frame as if the refused one never came.
TEST(AudioMixerTest, RefusedFrameLeavesTheSourceAsItWas) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("eve");
  push_signal(mixer, id, 48000, kStereo, AV_SAMPLE_FMT_S16, 0, 24000, 960, sine(1000, 0.25, 48000), false);
  const AVChannelLayout wide{.order = AV_CHANNEL_ORDER_UNSPEC, .nb_channels = 65, .u = {.mask = 0}};
  auto frame = make_frame(48000, wide, AV_SAMPLE_FMT_FLTP, 960, 0, sine(1000, 0.25, 48000));
  try {
    mixer.push(id, *frame, MediaTime::from_ms(500));
    FAIL() << "65 channels were taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eve"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("65 channels"), std::string::npos) << e.what();
  }
  push_signal(mixer, id, 48000, kStereo, AV_SAMPLE_FMT_S16, 500'000, 24000, 960,
              [](int64_t i) { return 0.25 * std::sin(2 * M_PI * 1000 * double(i + 24000) / 48000); }, false);
  mixer.flush(id);
  const SourceStats st = mixer.stats(id);
  EXPECT_EQ(st.gaps_filled, 0) << "the audio after the refused frame continues it";
  const auto out = mix_until(mixer, kOutputRateHz);
  EXPECT_NEAR(to_db(goertzel_amplitude(window(out, 1600, 12800), 1000) / 0.25), 0.0, 0.2);
}

// flush() lets the resampler go (a call through many files flushes one source per file);
// a later push, even in another format, builds a new one and goes on where it should.
TEST(AudioMixer, PushAfterFlushContinuesInAnyFormat) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("eve");
  push_signal(mixer, id, 44100, kMono, AV_SAMPLE_FMT_FLT, 0, 44100, 1024, sine(1000, 0.25, 44100));
  mixer.flush(id);
  EXPECT_NEAR(static_cast<double>(mixer.buffered_until(id)), 16000.0, 1.0);
  push_signal(mixer, id, 48000, kStereo, AV_SAMPLE_FMT_S16, 2'000'000, 48000, 960, sine(1000, 0.25, 48000));
  mixer.flush(id);
  EXPECT_NEAR(static_cast<double>(mixer.buffered_until(id)), 48000.0, 1.0);
  const auto out = mix_until(mixer, 3 * kOutputRateHz);
  EXPECT_NEAR(to_db(goertzel_amplitude(window(out, 3200, 9600), 1000) / 0.25), 0.0, 0.2);
  EXPECT_LT(goertzel_amplitude(window(out, 17600, 12800), 1000), 1e-4) << "the gap stays silent";
  const auto onset = first_above(out, 30000, 34000, 0.125f);
  ASSERT_TRUE(onset.has_value());
  EXPECT_NEAR(static_cast<double>(*onset), 32000.0, 16.0);
  EXPECT_NEAR(to_db(goertzel_amplitude(window(out, 35200, 9600), 1000) / 0.25), 0.0, 0.2);
}

}  // namespace
}  // namespace callrec::mixer
