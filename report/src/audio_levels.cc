#include "audio_levels.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "callrec/core/error.h"
#include "chunk_stream_reader.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
}

namespace callrec::report {

AudioLevels::AudioLevels(int64_t duration_ms, int64_t bin_ms) : bin_ms_(std::max<int64_t>(1, bin_ms)) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(1, (duration_ms + bin_ms_ - 1) / bin_ms_));
  sum_squares_.assign(n, 0);
  peak_.assign(n, 0);
  counts_.assign(n, 0);
}

void AudioLevels::add_chunk(const std::filesystem::path& mp4, int64_t start_ms) {
  ChunkStreamReader reader(mp4, AVMEDIA_TYPE_AUDIO);
  const AVRational tb = reader.stream().time_base;
  const int64_t bins = static_cast<int64_t>(sum_squares_.size());
  while (const AVFrame* f = reader.next_frame()) {
    const int rate = f->sample_rate > 0 ? f->sample_rate : 16000;
    const int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    if (pts == AV_NOPTS_VALUE) continue;
    // Sample position of the frame's first sample, in the frame's rate.
    const int64_t first = av_rescale_q(pts, tb, AVRational{1, rate});
    const int channels = std::max(1, f->ch_layout.nb_channels);
    const bool planar = f->format == AV_SAMPLE_FMT_FLTP;
    if (f->format != AV_SAMPLE_FMT_FLTP && f->format != AV_SAMPLE_FMT_FLT) continue;  // AAC decodes to float
    const auto* s = reinterpret_cast<const float*>(f->data[0]);
    const int stride = planar ? 1 : channels;
    for (int i = 0; i < f->nb_samples; ++i) {
      const int64_t at = first + i;
      if (at < 0) continue;  // the encoder's priming
      const int64_t bin = (start_ms + at * 1000 / rate) / bin_ms_;
      if (bin < 0 || bin >= bins) continue;
      const float x = s[i * stride];
      const float a = std::fabs(x);
      sum_squares_[static_cast<size_t>(bin)] += double{x} * x;
      peak_[static_cast<size_t>(bin)] = std::max(peak_[static_cast<size_t>(bin)], a);
      ++counts_[static_cast<size_t>(bin)];
      ++samples_;
      if (a >= 0.999f) ++clipped_;
    }
  }
  damaged_ += reader.packets_damaged();
}

double AudioLevels::rms_db(size_t i) const {
  if (counts_[i] == 0 || sum_squares_[i] <= 0) return -std::numeric_limits<double>::infinity();
  return 10 * std::log10(sum_squares_[i] / static_cast<double>(counts_[i]));
}

double AudioLevels::peak_db(size_t i) const {
  if (peak_[i] <= 0) return -std::numeric_limits<double>::infinity();
  return 20 * std::log10(double{peak_[i]});
}

}  // namespace callrec::report
