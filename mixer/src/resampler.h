// Resampler: one source's audio, any rate/layout/format, to 16 kHz mono float.
//
// Wraps one SwrContext, rebuilt only when the input format changes. libswresample
// aligns its output with its input (the first output sample is the instant of the first
// input sample); its filter delay shows up as input held back until more arrives or
// drain() is called. The caller places output by counting, so that delay never shifts
// audio in time.
//
// Threading: owned by one source of one AudioMixer; not synchronised.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "callrec/core/av.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

namespace callrec::mixer {

// Most channels one input may have (libswresample's limit): a layout libswresample
// knows is downmixed its way, any other is averaged.
inline constexpr int kMaxChannels = 64;

struct InputFormat {
  int sample_rate_hz = 0;
  AVSampleFormat sample_format = AV_SAMPLE_FMT_NONE;
  const AVChannelLayout* layout = nullptr;  // borrowed for the call only
};

class Resampler {
 public:
  explicit Resampler(std::string source_name);
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  // True when `format` differs from the one the context was built for (or none is).
  bool format_changed(const InputFormat& format) const;
  // Builds the context for `format`. `allow_compensation` forces the resampling path
  // even when rates match, so that set_compensation() can stretch time. Throws
  // callrec::Error naming the source when the format cannot be converted; the
  // resampler is then left as it was.
  void configure(const InputFormat& format, bool allow_compensation);
  bool configured() const { return swr_ != nullptr; }
  int input_rate_hz() const { return input_rate_hz_; }

  // Converts `nb_samples` input samples (`data` as in AVFrame::extended_data). The
  // returned span stays valid until the next call.
  std::span<const float> convert(const uint8_t* const* data, int nb_samples);
  // Flushes the samples held back by the filter and resets the filter state, so the
  // next convert() starts a new, independent stretch of audio.
  std::span<const float> drain();
  // Frees the context and its buffers (the filter tables are most of a source's memory);
  // the next convert() needs configure() again. For a stream that has ended.
  void release();

  // Held-back input, in units of 1/time_base_den seconds.
  int64_t delay(int64_t time_base_den) const;
  // Stretches output by `sample_delta` samples per `distance_samples` output samples.
  void set_compensation(int sample_delta, int distance_samples);

 private:
  std::span<const float> run(const uint8_t* const* data, int nb_samples);
  [[noreturn]] void fail(int averror, const char* doing) const;

  std::string source_name_;
  av::SwrPtr swr_;
  int input_rate_hz_ = 0;
  AVSampleFormat input_format_ = AV_SAMPLE_FMT_NONE;
  AVChannelLayout input_layout_{};
  bool compensation_ = false;
  std::vector<float> out_;  // grows to the largest frame seen, then reused
};

}  // namespace callrec::mixer
