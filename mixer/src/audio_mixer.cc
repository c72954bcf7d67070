#include "callrec/mixer/audio_mixer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "callrec/core/error.h"
#include "opus_packet_decoder.h"
#include "resampler.h"
#include "soft_limiter.h"
#include "timeline_buffer.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/mathematics.h>
}

namespace callrec::mixer {
namespace {

// Container timestamps are often rounded to 1 ms; frames this close to where the previous
// one ended are contiguous and placed exactly where it ended.
constexpr int kContiguityToleranceMs = 2;
// Float input beyond this (+6 dBFS) is clamped to it; see AudioMixer::Impl::sanitized.
constexpr double kMaxInputLevel = 2.0;

// Drift control (see MixerConfig::drift_correction). A proportional controller: the
// smoothed placement error, in output samples, is corrected over kDriftHorizonSamples,
// so a constant 500 ppm offset settles at 500e-6 * 32000 = 16 samples (1 ms) of error.
constexpr double kDriftHorizonSamples = 2.0 * kOutputRateHz;
constexpr double kDriftMaxRatio = 0.002;   // 0.2 %: well below audible pitch change
constexpr double kDriftSmoothing = 0.05;   // per frame; rejects timestamp jitter
constexpr int kCompensationDistance = 10 * kOutputRateHz;

// A stretch of audio placed contiguously from `start_index`; the resampler's output is
// aligned with its input, so output sample k of the segment sits at start_index + k.
struct Segment {
  int64_t start_index = 0;  // call-timeline index at 16 kHz
  int input_rate_hz = 0;
  int64_t input_samples = 0;   // consumed by the resampler in this segment
  int64_t output_samples = 0;  // produced (and placed) in this segment
};

}  // namespace

struct AudioMixer::Impl {
  struct Source {
    explicit Source(std::string source_name) : name(std::move(source_name)), resampler(name) {}
    std::string name;
    bool active = true;
    Resampler resampler;
    TimelineBuffer buffer;
    SourceStats stats;
    std::optional<Segment> segment;
    double drift_error_samples = 0.0;   // smoothed control state, not a timestamp
    int64_t drift_closed_samples = 0;   // drift correction of finished segments
    std::unique_ptr<OpusPacketDecoder> opus;  // made on the first push_opus()
  };

  explicit Impl(MixerConfig c) : config(c) {
    if (config.max_talkers && *config.max_talkers < 1) {
      throw Error("audio mixer: max_talkers must be at least 1, got " + std::to_string(*config.max_talkers));
    }
  }

  Source& source(SourceId id) {
    if (id < 0 || static_cast<size_t>(id) >= sources.size()) {
      throw Error("audio mixer: no audio source with id " + std::to_string(id));
    }
    return *sources[static_cast<size_t>(id)];
  }
  Source& active_source(SourceId id) {
    Source& s = source(id);
    if (!s.active) throw Error("audio of participant " + s.name + ": the source was removed");
    return s;
  }

  void write_output(Source& s, std::span<const float> samples) {
    Segment& seg = *s.segment;
    const int64_t at = seg.start_index + seg.output_samples;
    const int64_t dropped = s.buffer.write(at, samples);
    const auto n = static_cast<int64_t>(samples.size());
    seg.output_samples += n;
    s.stats.samples_received += n;
    s.stats.samples_dropped_late += dropped;
    s.stats.samples_mixed += n - dropped;
  }

  // Flushes the resampler's held-back samples onto the timeline; the segment then ends
  // at exactly the position its input covered.
  void finish_segment(Source& s) {
    if (!s.segment || !s.resampler.configured()) return;
    write_output(s, s.resampler.drain());
    if (config.drift_correction) {
      const Segment& seg = *s.segment;
      s.drift_closed_samples +=
          seg.output_samples - seg.input_samples * kOutputRateHz / seg.input_rate_hz;
    }
    s.drift_error_samples = 0.0;
  }

  void update_drift_stats(Source& s) {
    const Segment& seg = *s.segment;
    const int64_t held = s.resampler.delay(kOutputRateHz);
    s.stats.drift_corrected_samples = s.drift_closed_samples + seg.output_samples + held -
                                      seg.input_samples * kOutputRateHz / seg.input_rate_hz;
  }

  // Places `nb_samples` of input whose first sample is at call time `start`.
  void place(Source& s, const InputFormat& format, const uint8_t* const* data, int nb_samples,
             MediaTime start) {
    if (nb_samples <= 0) return;
    if (s.resampler.format_changed(format)) {
      // Keep continuity across a format change: the old tail is flushed and the new
      // format continues where it ended.
      std::optional<int64_t> continue_at;
      if (s.segment) {
        finish_segment(s);
        continue_at = s.segment->start_index + s.segment->output_samples;
      }
      s.resampler.configure(format, config.drift_correction);
      if (continue_at) s.segment = Segment{*continue_at, format.sample_rate_hz, 0, 0};
    }
    const int rate = format.sample_rate_hz;
    // "Fine" ticks: one input sample is kOutputRateHz of them, one output sample `rate`.
    // 64-bit: above 134 kHz (files go to 384 kHz) a second's count passes an int.
    const int64_t fine_per_second = int64_t{kOutputRateHz} * rate;
    const int64_t ticks_per_ms = fine_per_second / 1000;
    int64_t skip = 0;
    if (!s.segment) {
      s.segment = Segment{start.rescaled(kOutputTimeBase).ticks(), rate, 0, 0};
    } else {
      Segment& seg = *s.segment;
      const int64_t start_fine =
          av_rescale(start.ticks(), int64_t{start.time_base().num} * fine_per_second, start.time_base().den);
      const int64_t expected_fine =
          config.drift_correction
              ? (seg.start_index + seg.output_samples) * rate + s.resampler.delay(fine_per_second)
              : seg.start_index * rate + seg.input_samples * kOutputRateHz;
      const int64_t diff = start_fine - expected_fine;
      const int64_t tolerance =
          (config.drift_correction ? kDriftToleranceMs : kContiguityToleranceMs) * ticks_per_ms;
      if (diff > tolerance) {
        // Gap: the source was silent or lost audio. The buffer fills it with silence.
        finish_segment(s);
        const int64_t old_end = seg.start_index + seg.output_samples;
        const int64_t new_start = std::max(old_end, start.rescaled(kOutputTimeBase).ticks());
        ++s.stats.gaps_filled;
        s.stats.samples_concealed += new_start - old_end;
        s.segment = Segment{new_start, rate, 0, 0};
      } else if (diff < -tolerance) {
        // Overlap: what was already placed wins; trim the head of this frame.
        skip = (-diff + kOutputRateHz / 2) / kOutputRateHz;
        if (skip >= nb_samples) return;
      } else if (config.drift_correction) {
        const double error_samples = static_cast<double>(diff) / rate;
        s.drift_error_samples += (error_samples - s.drift_error_samples) * kDriftSmoothing;
        const double ratio =
            std::clamp(s.drift_error_samples / kDriftHorizonSamples, -kDriftMaxRatio, kDriftMaxRatio);
        s.resampler.set_compensation(static_cast<int>(std::lround(ratio * kCompensationDistance)),
                                     kCompensationDistance);
      }
    }

    const uint8_t* const* source = sanitized(s, format, data, nb_samples);
    const uint8_t* const* input = source;
    std::array<const uint8_t*, kMaxChannels> shifted{};
    if (skip > 0) {
      const int channels = format.layout->nb_channels;
      const int bytes = av_get_bytes_per_sample(format.sample_format);
      if (av_sample_fmt_is_planar(format.sample_format)) {
        if (channels > kMaxChannels) {
          throw Error("audio of participant " + s.name + ": too many channels to trim (" +
                      std::to_string(channels) + ")");
        }
        for (int c = 0; c < channels; ++c) shifted[static_cast<size_t>(c)] = source[c] + skip * bytes;
      } else {
        shifted[0] = source[0] + skip * bytes * channels;
      }
      input = shifted.data();
    }
    const int consumed = nb_samples - static_cast<int>(skip);
    const std::span<const float> converted = s.resampler.convert(input, consumed);
    s.segment->input_samples += consumed;
    write_output(s, converted);
    if (config.drift_correction) update_drift_stats(s);
  }

  // Float audio can hold what no decoder should give: NaN, infinity, values far beyond
  // full scale. One such sample would stay in the resampler's filter and set the
  // limiter's gain to NaN, silencing (or deafening) everyone for the rest of the call.
  // So a float frame holding any is copied with them silenced (NaN, infinity) or
  // clamped (beyond kMaxInputLevel), counted on its source, before conversion.
  template <typename T>
  static bool clean(const uint8_t* plane, int count) {
    const T* x = reinterpret_cast<const T*>(plane);
    bool ok = true;
    for (int i = 0; i < count; ++i) ok &= std::fabs(x[i]) <= T(kMaxInputLevel);  // false for NaN
    return ok;
  }
  template <typename T>
  static int64_t fix(uint8_t* plane, int count) {
    T* x = reinterpret_cast<T*>(plane);
    int64_t fixed = 0;
    for (int i = 0; i < count; ++i) {
      if (std::fabs(x[i]) <= T(kMaxInputLevel)) continue;
      x[i] = std::isnan(x[i]) || std::isinf(x[i]) ? T(0) : std::copysign(T(kMaxInputLevel), x[i]);
      ++fixed;
    }
    return fixed;
  }
  const uint8_t* const* sanitized(Source& s, const InputFormat& format, const uint8_t* const* data, int nb_samples) {
    const AVSampleFormat packed = av_get_packed_sample_fmt(format.sample_format);
    if (packed != AV_SAMPLE_FMT_FLT && packed != AV_SAMPLE_FMT_DBL) return data;
    const bool is_double = packed == AV_SAMPLE_FMT_DBL;
    const int channels = format.layout->nb_channels;
    const bool planar = av_sample_fmt_is_planar(format.sample_format);
    const int planes = planar ? channels : 1;
    const int per_plane = planar ? nb_samples : nb_samples * channels;
    bool all_clean = true;
    for (int p = 0; p < planes && all_clean; ++p) {
      all_clean = is_double ? clean<double>(data[p], per_plane) : clean<float>(data[p], per_plane);
    }
    if (all_clean) return data;
    const size_t plane_bytes = static_cast<size_t>(per_plane) * (is_double ? sizeof(double) : sizeof(float));
    if (scratch.size() < plane_bytes * static_cast<size_t>(planes)) scratch.resize(plane_bytes * static_cast<size_t>(planes));
    scratch_planes.resize(static_cast<size_t>(planes));
    for (int p = 0; p < planes; ++p) {
      uint8_t* copy = scratch.data() + plane_bytes * static_cast<size_t>(p);
      std::memcpy(copy, data[p], plane_bytes);
      s.stats.samples_invalid += is_double ? fix<double>(copy, per_plane) : fix<float>(copy, per_plane);
      scratch_planes[static_cast<size_t>(p)] = copy;
    }
    return scratch_planes.data();
  }

  MixerConfig config;
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<uint8_t> scratch;                // sanitized copies; grows to the largest frame
  std::vector<const uint8_t*> scratch_planes;
  int64_t next_sample = 0;
  // The mixing bus: allocated once with the mixer, aligned for vector loads.
  Eigen::Array<float, kFrameSamples, 1> bus;
  std::vector<std::pair<float, Source*>> talkers;  // reserved in add_source()
  SoftLimiter limiter;
};

AudioMixer::AudioMixer(MixerConfig config) : impl_(std::make_unique<Impl>(config)) {}
AudioMixer::~AudioMixer() = default;

SourceId AudioMixer::add_source(std::string name) {
  auto source = std::make_unique<Impl::Source>(std::move(name));
  source->buffer.advance_to(impl_->next_sample);
  impl_->sources.push_back(std::move(source));
  impl_->talkers.reserve(impl_->sources.size());
  return static_cast<SourceId>(impl_->sources.size() - 1);
}

void AudioMixer::remove_source(SourceId id) {
  Impl::Source& s = impl_->source(id);
  s.active = false;
  s.segment.reset();
  s.buffer = TimelineBuffer(1024);  // release the memory; stats stay readable
}

void AudioMixer::push(SourceId id, const AVFrame& frame, MediaTime start) {
  Impl::Source& s = impl_->active_source(id);
  const InputFormat format{frame.sample_rate, static_cast<AVSampleFormat>(frame.format), &frame.ch_layout};
  impl_->place(s, format, frame.extended_data, frame.nb_samples, start);
}

void AudioMixer::flush(SourceId id) {
  Impl::Source& s = impl_->active_source(id);
  if (!s.segment) return;
  impl_->finish_segment(s);
  // Continue from where the flushed audio ends (within a fraction of a sample of where
  // the input ended); the resampler starts afresh. Its context goes now: a call through
  // many files flushes a source per file, and each context is ~90 kB of filter tables.
  s.resampler.release();
  const Segment& seg = *s.segment;
  s.segment = Segment{seg.start_index + seg.output_samples, seg.input_rate_hz, 0, 0};
}

void AudioMixer::push_opus(SourceId id, std::span<const uint8_t> packet, MediaTime start) {
  Impl::Source& s = impl_->active_source(id);
  if (!s.opus) s.opus = std::make_unique<OpusPacketDecoder>(s.name);
  const OpusPacketDecoder::Output out = s.opus->decode(packet, start.rescaled({1, kOpusRateHz}).ticks());
  s.stats.packets_lost += out.packets_lost;
  s.stats.packets_corrupt += out.packet_corrupt ? 1 : 0;
  s.stats.packets_discarded += out.packet_discarded ? 1 : 0;
  if (out.gap_concealed) ++s.stats.gaps_filled;
  s.stats.samples_concealed += out.concealed_samples * kOutputRateHz / kOpusRateHz;
  if (out.samples.empty()) return;
  static const AVChannelLayout kMono = AV_CHANNEL_LAYOUT_MONO;
  const InputFormat format{kOpusRateHz, AV_SAMPLE_FMT_FLT, &kMono};
  const uint8_t* planes[1] = {reinterpret_cast<const uint8_t*>(out.samples.data())};
  impl_->place(s, format, planes, static_cast<int>(out.samples.size()), MediaTime(out.start_48k, {1, kOpusRateHz}));
}

int64_t AudioMixer::buffered_until(SourceId id) const { return impl_->source(id).buffer.end(); }

int64_t AudioMixer::next_sample() const { return impl_->next_sample; }

void AudioMixer::mix(std::span<float, kFrameSamples> out) {
  Impl& m = *impl_;
  const int64_t from = m.next_sample;
  m.bus.setZero();
  auto add = [&](const Impl::Source& s) {
    const TimelineBuffer::Pieces pieces = s.buffer.read(from, kFrameSamples);
    for (int i = 0; i < pieces.count; ++i) {
      const auto& p = pieces.piece[i];
      const auto n = static_cast<Eigen::Index>(p.samples.size());
      m.bus.segment(static_cast<Eigen::Index>(p.offset), n) += Eigen::Map<const Eigen::ArrayXf>(p.samples.data(), n);
    }
  };
  if (!m.config.max_talkers) {
    for (const auto& s : m.sources) {
      if (s->active && !(s->buffer.end() <= from)) add(*s);
    }
  } else {
    m.talkers.clear();
    for (const auto& s : m.sources) {
      if (!s->active || s->buffer.end() <= from) continue;  // absent: costs nothing
      float energy = 0.0f;
      const TimelineBuffer::Pieces pieces = s->buffer.read(from, kFrameSamples);
      for (int i = 0; i < pieces.count; ++i) {
        const auto& p = pieces.piece[i];
        energy += Eigen::Map<const Eigen::VectorXf>(p.samples.data(), static_cast<Eigen::Index>(p.samples.size()))
                      .squaredNorm();
      }
      if (energy > 0.0f) m.talkers.emplace_back(energy, s.get());
    }
    const auto keep = std::min(m.talkers.size(), static_cast<size_t>(*m.config.max_talkers));
    std::nth_element(m.talkers.begin(), m.talkers.begin() + static_cast<std::ptrdiff_t>(keep), m.talkers.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < keep; ++i) add(*m.talkers[i].second);
  }
  m.limiter.process(std::span<float>(m.bus.data(), kFrameSamples));
  std::copy_n(m.bus.data(), kFrameSamples, out.data());
  m.next_sample += kFrameSamples;
  for (const auto& s : m.sources) {
    s->buffer.advance_to(m.next_sample);
    // No resampler: nothing pushed since flush() (or ever). Once such a source's audio is
    // all mixed its buffer (64 kB or more) goes, so a call through many files does not
    // keep one per file; release() is a no-op when there is no storage.
    if (!s->resampler.configured() && s->buffer.empty()) s->buffer.release();
  }
}

SourceStats AudioMixer::stats(SourceId id) const { return impl_->source(id).stats; }

}  // namespace callrec::mixer
