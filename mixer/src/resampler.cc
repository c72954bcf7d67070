#include "resampler.h"

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

void Resampler::configure(const InputFormat& format, bool allow_compensation) {
  const std::string what = "audio of participant " + source_name_;
  if (format.sample_rate_hz <= 0 || format.layout == nullptr || format.layout->nb_channels <= 0) {
    throw Error(what + ": cannot convert audio with sample rate " + std::to_string(format.sample_rate_hz) +
                " Hz and " + std::to_string(format.layout ? format.layout->nb_channels : 0) + " channels");
  }
  av_channel_layout_uninit(&input_layout_);
  check_av(av_channel_layout_copy(&input_layout_, format.layout), what + ": copying the channel layout");
  // Decoders sometimes only know the channel count; give it the default layout so the
  // downmix matrix can be built.
  AVChannelLayout in_layout{};
  if (input_layout_.order == AV_CHANNEL_ORDER_UNSPEC) {
    av_channel_layout_default(&in_layout, input_layout_.nb_channels);
  } else {
    check_av(av_channel_layout_copy(&in_layout, &input_layout_), what + ": copying the channel layout");
  }
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  SwrContext* raw = nullptr;
  const int alloc_result = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, kOutputRateHz, &in_layout,
                                               format.sample_format, format.sample_rate_hz, 0, nullptr);
  av_channel_layout_uninit(&in_layout);
  av::SwrPtr swr(raw);
  check_av(alloc_result, what + ": setting up the resampler");
  // Normalise the downmix so the coefficients of each output sum to at most 1: a tone
  // present in every channel keeps its level, and a full-scale 5.1 source cannot clip.
  check_av(av_opt_set_double(swr.get(), "rematrix_maxval", 1.0, 0), what + ": setting the downmix");
  if (allow_compensation) {
    check_av(av_opt_set_int(swr.get(), "swr_flags", SWR_FLAG_RESAMPLE, 0), what + ": enabling drift compensation");
  }
  check_av(swr_init(swr.get()), what + ": initialising the resampler for " + std::to_string(format.sample_rate_hz) +
                                    " Hz " + (av_get_sample_fmt_name(format.sample_format)
                                                  ? av_get_sample_fmt_name(format.sample_format)
                                                  : "unknown-format"));
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
