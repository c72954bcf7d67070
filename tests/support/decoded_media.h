// Decodes an output chunk for tests: stream parameters, the audio as 16 kHz float, and
// the pictures (handed out one at a time so memory stays small), plus signal measures.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" struct AVFrame;

namespace callrec::testing {

struct StreamInfo {
  std::string video_codec;
  std::string video_profile;
  int width = 0;
  int height = 0;
  std::string pix_fmt;
  int frame_rate_num = 0;
  int frame_rate_den = 1;
  std::string audio_codec;
  std::string audio_profile;
  int sample_rate = 0;
  int channels = 0;
  double duration_s = 0;
  int64_t video_frames = 0;
  bool first_video_packet_key = false;
  int64_t first_video_pts = -1;
  int64_t first_audio_pts = -1;
  std::vector<std::string> top_level_boxes;
};

struct Yuv {
  int y, u, v;
};

struct DecodedChunk {
  StreamInfo info;
  std::vector<float> audio;  // mono samples as decoded (16 kHz)
};

// Decodes `path`; `on_picture(index, frame)` sees every decoded picture in order.
DecodedChunk decode_chunk(const std::filesystem::path& path,
                          const std::function<void(int64_t, const AVFrame&)>& on_picture = {});

// Mean Y/U/V of a (2r+1)^2 block centred at (x, y).
Yuv pixel_at(const AVFrame& frame, int x, int y, int r = 4);

// Goertzel power of `hz` in samples [from, to), as an RMS amplitude of that sinusoid.
double tone_amplitude(std::span<const float> samples, double hz, int sample_rate = 16000);

// RMS of a span.
double rms(std::span<const float> samples);
// The onset of a beep in 16 kHz audio, in ms: the first sample within `search_ms` of
// `around_ms` whose 1 ms power reaches half the peak power there; nullopt when that
// stretch holds no beep (peak power under 0.01).
std::optional<double> beep_onset_ms(std::span<const float> audio, double around_ms, double search_ms);

nlohmann::json read_json(const std::filesystem::path& path);

// A fresh, empty directory under the system temp dir.
std::filesystem::path fresh_dir(const std::string& name);

}  // namespace callrec::testing
