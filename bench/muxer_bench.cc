// Cost of the muxer per output period (one 1080p H.264 frame + 2000 AAC samples), and
// of closing a chunk (remuxing the fragmented file into a faststart MP4).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/muxer/recording_writer.h"
#include "reuse_weighting.h"

namespace {

using namespace callrec;
using namespace callrec::muxer;

class NullAnnotator : public ChunkAnnotator {
 public:
  ChunkAnnotation annotate(MediaTime, MediaTime, bool) override { return {}; }
};

// A canvas with a moving bright block over a flat background: conferencing-like
// content (mostly static, some motion) rather than noise.
void paint(AVFrame& canvas, int64_t k) {
  check_av(av_frame_make_writable(&canvas), "bench canvas");
  for (int y = 0; y < kVideoHeight; ++y) {
    uint8_t* row = canvas.data[0] + static_cast<ptrdiff_t>(y) * canvas.linesize[0];
    for (int x = 0; x < kVideoWidth; ++x) {
      const bool in_block = (x - k * 16) % kVideoWidth < 320 && y > 300 && y < 700;
      row[x] = in_block ? static_cast<uint8_t>(200 + (x ^ y) % 40) : static_cast<uint8_t>(60);
    }
  }
  for (int plane = 1; plane < 3; ++plane) {
    for (int y = 0; y < kVideoHeight / 2; ++y) {
      std::fill_n(canvas.data[plane] + static_cast<ptrdiff_t>(y) * canvas.linesize[plane], kVideoWidth / 2, 128);
    }
  }
}

void BM_WritePeriod(benchmark::State& state) {
  av_log_set_level(AV_LOG_ERROR);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "callrec-muxer-bench";
  std::filesystem::remove_all(dir);
  NullAnnotator annotator;
  RecordingConfig config;
  config.out_dir = dir;
  config.call_id = "bench";
  config.recording_start_time = WallClock{0};
  RecordingWriter writer(config, annotator);
  av::FramePtr canvas = av::make_frame();
  canvas->format = 0;  // AV_PIX_FMT_YUV420P
  canvas->width = kVideoWidth;
  canvas->height = kVideoHeight;
  check_av(av_frame_get_buffer(canvas.get(), 0), "bench canvas");
  std::vector<float> audio(kSamplesPerPeriod, 0.1f);
  int64_t k = 0;
  for (auto _ : state) {
    state.PauseTiming();
    paint(*canvas, k++);
    state.ResumeTiming();
    writer.write_period(*canvas, audio);
  }
  writer.finish("CallEnded");  // after the loop: not timed
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WritePeriod)->Unit(benchmark::kMillisecond)->Iterations(160)->UseRealTime();  // x264 runs on its own threads

// Estimating how much of each macroblock later pictures reuse and attaching the
// quantizer offsets: the muxer's own work per picture on top of x264's.
void BM_ReuseWeighting(benchmark::State& state) {
  av::FramePtr canvas = av::make_frame();
  canvas->format = 0;  // AV_PIX_FMT_YUV420P
  canvas->width = kVideoWidth;
  canvas->height = kVideoHeight;
  check_av(av_frame_get_buffer(canvas.get(), 0), "bench canvas");
  ReuseWeighting weighting(kVideoWidth, kVideoHeight, 2.0);
  int64_t k = 0;
  for (auto _ : state) {
    state.PauseTiming();
    paint(*canvas, k++);
    state.ResumeTiming();
    weighting.annotate(*canvas);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReuseWeighting)->Unit(benchmark::kMicrosecond)->Iterations(100);

}  // namespace
