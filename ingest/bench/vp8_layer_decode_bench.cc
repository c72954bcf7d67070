// Decode CPU of a 640x360@30 VP8 L1T3 stream: every frame, against the frames
// Vp8LayerFilter keeps for the 8 fps output (TL0, 7.5 fps).
//   build/ingest/ingest_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include "callrec/ingest/vp8_layer_filter.h"
#include "vp8_layers.h"

namespace {
using callrec::ingest::Vp8LayerFilter;
namespace test = callrec::ingest::test;

const std::vector<test::LayeredFrame>& stream() {
  static const auto frames = test::encode_vp8_l1t3(300, 30);  // 10 s
  return frames;
}

void decode(benchmark::State& state, bool filtered) {
  std::vector<const test::LayeredFrame*> frames;
  Vp8LayerFilter filter;
  for (size_t i = 0; i < stream().size(); ++i) {
    const auto& f = stream()[i];
    if (!filtered || filter.keep(f.timestamp_90k, f.temporal_layer, i < 4, f.keyframe)) frames.push_back(&f);
  }
  for (auto _ : state) benchmark::DoNotOptimize(test::decode_vp8(frames));
  state.counters["frames"] = static_cast<double>(frames.size());
  state.counters["media_s"] = 10;
}

void BM_DecodeEveryLayer(benchmark::State& state) { decode(state, false); }
void BM_DecodeKeptLayers(benchmark::State& state) { decode(state, true); }
BENCHMARK(BM_DecodeEveryLayer)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeKeptLayers)->Unit(benchmark::kMillisecond);
}  // namespace

BENCHMARK_MAIN();
