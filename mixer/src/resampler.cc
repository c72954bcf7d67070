#include "resampler.h"

#include <array>

#include "callrec/core/error.h"
#include "callrec/mixer/audio_mixer.h"

extern "C" {
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace callrec::mixer {

Resampler::Resampler(std::string source_name) : source_name_(std::move(source_name)) {}

Resampler::~Resampler() { av_channel_layout_uninit(&input_layout_); }

bool Resampler::format_changed(const InputFormat& format) const {
  return !swr_ || format.sample_rate_hz != input_rate_hz_ || format.sample_format != input_format_ ||
         av_channel_layout_compare(format.layout, &input_layout_) != 0;
}

namespace {

// An SwrContext converting `layout` (with `channels` channels) to 16 kHz mono float.
// `average` mixes every channel in with the same weight (a layout without a standard
// order, for which libswresample has no downmix of its own).
int make_context(av::SwrPtr& out, const AVChannelLayout& layout, AVSampleFormat format, int rate_hz, bool average,
                 bool allow_compensation) {
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  AVChannelLayout in = layout;  // a shallow copy: FFmpeg 5.1 takes the layouts non-const, and copies them
  SwrContext* raw = nullptr;
  int r = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, kOutputRateHz, &in, format, rate_hz, 0, nullptr);
  av::SwrPtr swr(raw);
  if (r < 0) return r;
  if (average) {
    std::array<double, kMaxChannels> matrix{};
    matrix.fill(1.0 / layout.nb_channels);
    if ((r = swr_set_matrix(swr.get(), matrix.data(), layout.nb_channels)) < 0) return r;
  } else {
    // Normalise the downmix so the coefficients of each output sum to at most 1: a tone
    // present in every channel keeps its level, and a full-scale 5.1 source cannot clip.
    if ((r = av_opt_set_double(swr.get(), "rematrix_maxval", 1.0, 0)) < 0) return r;
  }
  if (allow_compensation && (r = av_opt_set_int(swr.get(), "swr_flags", SWR_FLAG_RESAMPLE, 0)) < 0) return r;
  if ((r = swr_init(swr.get())) < 0) return r;
  out = std::move(swr);
  return 0;
}

}  // namespace

void Resampler::configure(const InputFormat& format, bool allow_compensation) {
  const std::string what = "audio of participant " + source_name_;
  const int channels = format.layout ? format.layout->nb_channels : 0;
  if (format.sample_rate_hz <= 0 || channels <= 0 || channels > kMaxChannels ||
      av_get_bytes_per_sample(format.sample_format) <= 0) {
    const char* name = av_get_sample_fmt_name(format.sample_format);
    throw Error(what + ": cannot convert audio with sample rate " + std::to_string(format.sample_rate_hz) + " Hz, " +
                std::to_string(channels) + " channels and sample format " + (name ? name : "unknown") +
                " (1 to " + std::to_string(kMaxChannels) + " channels)");
  }
  // Decoders sometimes only know the channel count: the standard layout of that count
  // gets libswresample's downmix; a count without one (9, 32, 64 channels), or a layout
  // libswresample has no downmix for, gets every channel at the same weight.
  AVChannelLayout in_layout{};
  if (format.layout->order == AV_CHANNEL_ORDER_UNSPEC) {
    av_channel_layout_default(&in_layout, channels);
  } else {
    check_av(av_channel_layout_copy(&in_layout, format.layout), what + ": copying the channel layout");
  }
  av::SwrPtr swr;
  int r = -1;
  if (in_layout.order != AV_CHANNEL_ORDER_UNSPEC) {
    r = make_context(swr, in_layout, format.sample_format, format.sample_rate_hz, false, allow_compensation);
  }
  av_channel_layout_uninit(&in_layout);
  if (r < 0) {
    const AVChannelLayout unordered{.order = AV_CHANNEL_ORDER_UNSPEC, .nb_channels = channels, .u = {.mask = 0}};
    r = make_context(swr, unordered, format.sample_format, format.sample_rate_hz, true, allow_compensation);
  }
  check_av(r, what + ": initialising the resampler for " + std::to_string(format.sample_rate_hz) + " Hz " +
                  std::to_string(channels) + " channels " +
                  (av_get_sample_fmt_name(format.sample_format) ? av_get_sample_fmt_name(format.sample_format)
                                                                 : "unknown-format"));
  // Committed only now: a format that fails leaves the resampler as it was.
  AVChannelLayout kept{};
  check_av(av_channel_layout_copy(&kept, format.layout), what + ": copying the channel layout");
  av_channel_layout_uninit(&input_layout_);
  input_layout_ = kept;
  swr_ = std::move(swr);
  input_rate_hz_ = format.sample_rate_hz;
  input_format_ = format.sample_format;
  compensation_ = allow_compensation;
}

void Resampler::fail(int averror, const char* doing) const {
  // The message is built only here, so the per-frame path never allocates a string.
  throw Error("audio of participant " + source_name_ + ": " + doing + ": " + av_error_text(averror));
}

std::span<const float> Resampler::run(const uint8_t* const* data, int nb_samples) {
  const int capacity = swr_get_out_samples(swr_.get(), nb_samples);
  if (capacity < 0) fail(capacity, "sizing the resampler output");
  if (out_.size() < static_cast<size_t>(capacity)) out_.resize(static_cast<size_t>(capacity) * 2);
  uint8_t* out_planes[1] = {reinterpret_cast<uint8_t*>(out_.data())};
  const int produced = swr_convert(swr_.get(), out_planes, static_cast<int>(out_.size()),
                                   const_cast<const uint8_t**>(data), nb_samples);
  if (produced < 0) fail(produced, "converting to 16 kHz mono");
  return {out_.data(), static_cast<size_t>(produced)};
}

std::span<const float> Resampler::convert(const uint8_t* const* data, int nb_samples) {
  return run(data, nb_samples);
}

std::span<const float> Resampler::drain() {
  if (!swr_) return {};
  const std::span<const float> tail = run(nullptr, 0);
  // Re-initialising resets the filter history; the next stretch starts clean.
  if (const int r = swr_init(swr_.get()); r < 0) fail(r, "resetting the resampler");
  return tail;
}

void Resampler::release() {
  swr_.reset();
  input_rate_hz_ = 0;
  input_format_ = AV_SAMPLE_FMT_NONE;
  av_channel_layout_uninit(&input_layout_);
  std::vector<float>().swap(out_);
}

int64_t Resampler::delay(int64_t time_base_den) const {
  return swr_ ? swr_get_delay(swr_.get(), time_base_den) : 0;
}

void Resampler::set_compensation(int sample_delta, int distance_samples) {
  if (!swr_ || !compensation_) return;
  if (const int r = swr_set_compensation(swr_.get(), sample_delta, distance_samples); r < 0) {
    fail(r, "adjusting the resampling ratio");
  }
}

}  // namespace callrec::mixer
