// Generated test signals for the mixer tests: frames in any libav sample format, and
// Goertzel measurement of a tone's amplitude.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <span>

#include "callrec/core/av.h"
#include "callrec/core/error.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/samplefmt.h>
}

namespace callrec::mixer::testing {

// A frame of `nb_samples` where every channel carries signal(i) for input sample i
// (i counted from `first_sample` of the stream).
inline av::FramePtr make_frame(int rate_hz, const AVChannelLayout& layout, AVSampleFormat format, int nb_samples,
                               int64_t first_sample, const std::function<double(int64_t)>& signal) {
  av::FramePtr frame = av::make_frame();
  frame->sample_rate = rate_hz;
  frame->format = format;
  frame->nb_samples = nb_samples;
  check_av(av_channel_layout_copy(&frame->ch_layout, &layout), "test: copying layout");
  check_av(av_frame_get_buffer(frame.get(), 0), "test: allocating frame");
  const int channels = layout.nb_channels;
  const bool planar = av_sample_fmt_is_planar(format);
  for (int i = 0; i < nb_samples; ++i) {
    const double v = signal(first_sample + i);
    for (int c = 0; c < channels; ++c) {
      uint8_t* base = planar ? frame->extended_data[c] : frame->extended_data[0];
      const int index = planar ? i : i * channels + c;
      switch (av_get_packed_sample_fmt(format)) {
        case AV_SAMPLE_FMT_S16:
          reinterpret_cast<int16_t*>(base)[index] = static_cast<int16_t>(std::lround(v * 32767.0));
          break;
        case AV_SAMPLE_FMT_S32:
          reinterpret_cast<int32_t*>(base)[index] = static_cast<int32_t>(std::lround(v * 2147483647.0));
          break;
        case AV_SAMPLE_FMT_FLT:
          reinterpret_cast<float*>(base)[index] = static_cast<float>(v);
          break;
        case AV_SAMPLE_FMT_DBL:
          reinterpret_cast<double*>(base)[index] = v;
          break;
        default:
          throw Error("test: unsupported sample format");
      }
    }
  }
  return frame;
}

inline std::function<double(int64_t)> sine(double frequency_hz, double amplitude, int rate_hz) {
  return [=](int64_t i) {
    return amplitude * std::sin(2.0 * std::numbers::pi * frequency_hz * static_cast<double>(i) / rate_hz);
  };
}

// Amplitude of the `frequency_hz` component of `x` (16 kHz), by the Goertzel algorithm.
inline double goertzel_amplitude(std::span<const float> x, double frequency_hz, int rate_hz = 16000) {
  const double w = 2.0 * std::numbers::pi * frequency_hz / rate_hz;
  const double coeff = 2.0 * std::cos(w);
  double s1 = 0.0, s2 = 0.0;
  for (float v : x) {
    const double s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return 2.0 * std::sqrt(std::max(power, 0.0)) / static_cast<double>(x.size());
}

inline double to_db(double ratio) { return 20.0 * std::log10(ratio); }

}  // namespace callrec::mixer::testing
