// AudioMixer cost per output frame (1024 samples = 64 ms of call audio), including the
// conversion of each source's input to 16 kHz mono. Counters:
//   ns_per_sample   wall time per output sample (all sources together)
//   x_realtime      seconds of call audio mixed per second of one core
#include <benchmark/benchmark.h>

#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/mixer/audio_mixer.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
}

namespace {

using callrec::MediaTime;
using callrec::mixer::AudioMixer;
using callrec::mixer::kFrameSamples;
using callrec::mixer::kOutputRateHz;

callrec::av::FramePtr tone_frame(int rate_hz, int nb_samples, double frequency_hz) {
  auto frame = callrec::av::make_frame();
  frame->sample_rate = rate_hz;
  frame->format = AV_SAMPLE_FMT_FLT;
  frame->nb_samples = nb_samples;
  const AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  av_channel_layout_copy(&frame->ch_layout, &mono);
  av_frame_get_buffer(frame.get(), 0);
  auto* data = reinterpret_cast<float*>(frame->data[0]);
  for (int i = 0; i < nb_samples; ++i) {
    data[i] = static_cast<float>(0.1 * std::sin(2 * std::numbers::pi * frequency_hz * i / rate_hz));
  }
  return frame;
}

void set_counters(benchmark::State& state) {
  state.counters["ns_per_sample"] = benchmark::Counter(
      static_cast<double>(kFrameSamples) * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["x_realtime"] = benchmark::Counter(static_cast<double>(kFrameSamples) / kOutputRateHz,
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

// Every source talks: one input frame per source per output frame, then mix().
void BM_MixTalking(benchmark::State& state, int input_rate_hz) {
  const int sources = static_cast<int>(state.range(0));
  AudioMixer mixer;
  std::vector<int> ids;
  std::vector<callrec::av::FramePtr> frames;
  const int input_samples = kFrameSamples * input_rate_hz / kOutputRateHz;
  for (int i = 0; i < sources; ++i) {
    ids.push_back(mixer.add_source("p" + std::to_string(i)));
    // Whole periods per frame so repeating the frame stays continuous.
    frames.push_back(tone_frame(input_rate_hz, input_samples, 15.625 * (4 + i % 40)));
  }
  std::array<float, kFrameSamples> out{};
  int64_t frame_index = 0;
  for (auto _ : state) {
    const MediaTime t(frame_index * kFrameSamples, callrec::mixer::kOutputTimeBase);
    for (int i = 0; i < sources; ++i) mixer.push(ids[static_cast<size_t>(i)], *frames[static_cast<size_t>(i)], t);
    mixer.mix(out);
    benchmark::DoNotOptimize(out.data());
    ++frame_index;
  }
  set_counters(state);
}

// Everyone present, nobody sending audio: what silence costs.
void BM_MixAllSilent(benchmark::State& state) {
  const int sources = static_cast<int>(state.range(0));
  AudioMixer mixer;
  for (int i = 0; i < sources; ++i) mixer.add_source("p" + std::to_string(i));
  std::array<float, kFrameSamples> out{};
  for (auto _ : state) {
    mixer.mix(out);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {1, 2, 9, 49, 256}) b->Arg(n);
}

BENCHMARK_CAPTURE(BM_MixTalking, from_48k_float, 48000)->Apply(sizes);
BENCHMARK_CAPTURE(BM_MixTalking, from_16k_float, 16000)->Apply(sizes);
BENCHMARK(BM_MixAllSilent)->Apply(sizes);

}  // namespace
