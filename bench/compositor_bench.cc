// Cost of one composed 1080p frame, for 1..49 tiles of 640x360 yuv420p input,
// when every tile's picture changes (each participant pushes a new frame per
// output frame: scale + copy of every tile) and when none does (repaint skipped).
//
//   build/bench/compositor_bench --benchmark_filter=Compose
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
}

#include "callrec/compositor/video_compositor.h"
#include "callrec/core/av.h"

namespace {

using callrec::MediaTime;
using callrec::compositor::CompositorConfig;
using callrec::compositor::ParticipantId;
using callrec::compositor::VideoCompositor;

callrec::av::FramePtr gradient_frame(int width, int height, int seed) {
  callrec::av::FramePtr f = callrec::av::make_frame();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = width;
  f->height = height;
  if (av_frame_get_buffer(f.get(), 0) < 0) std::abort();
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) f->data[0][y * f->linesize[0] + x] = static_cast<uint8_t>(x + y + seed);
  }
  for (int y = 0; y < height / 2; ++y) {
    std::memset(f->data[1] + y * f->linesize[1], 100 + seed, width / 2);
    std::memset(f->data[2] + y * f->linesize[2], 150 - seed, width / 2);
  }
  return f;
}

void run(benchmark::State& state, bool all_changing) {
  const int tiles = static_cast<int>(state.range(0));
  CompositorConfig config;
  config.stall_timeout = MediaTime::from_ms(1'000'000'000);  // "none changing" never stalls
  VideoCompositor compositor(config);
  std::vector<ParticipantId> ids;
  for (int i = 0; i < tiles; ++i) ids.push_back(compositor.join("p" + std::to_string(i), "P " + std::to_string(i)));
  const callrec::av::FramePtr frames[2] = {gradient_frame(640, 360, 0), gradient_frame(640, 360, 7)};
  for (ParticipantId id : ids) compositor.push_frame(id, *frames[0], MediaTime::from_ms(0));
  compositor.compose(MediaTime::from_ms(0));  // warm up: scalers, first paint
  int64_t tick = 1;
  for (auto _ : state) {
    const MediaTime t = MediaTime(tick, callrec::Rational{1, 8});
    if (all_changing) {
      for (ParticipantId id : ids) compositor.push_frame(id, *frames[tick % 2], t);
    }
    benchmark::DoNotOptimize(compositor.compose(t).data[0]);
    ++tick;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ComposeAllChanging(benchmark::State& state) { run(state, true); }
void BM_ComposeNoneChanging(benchmark::State& state) { run(state, false); }

BENCHMARK(BM_ComposeAllChanging)->Arg(1)->Arg(4)->Arg(9)->Arg(25)->Arg(49)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ComposeNoneChanging)->Arg(1)->Arg(4)->Arg(9)->Arg(25)->Arg(49)->Unit(benchmark::kMillisecond);

}  // namespace
