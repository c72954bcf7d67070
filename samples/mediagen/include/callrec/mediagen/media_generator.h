// Synthetic participant media for samples, tests and benchmarks.
//
// Writes a real media file (any container FFmpeg writes, chosen by the file extension)
// with libav encoders: a solid-colour picture with a moving square (so encoders see
// motion) and/or tones placed at exact times. Signals are known exactly, so tests can
// measure what callrec made of them (tile colours, tone frequencies and levels).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace callrec::mediagen {

struct Rgb {
  uint8_t r;
  uint8_t g;
  uint8_t b;
};

// A stretch of media time [start_ms, end_ms) of a file.
struct TimeRangeMs {
  int64_t start_ms;
  int64_t end_ms;
};

// What the picture shows. `solid` is the measurable test picture (one colour, an
// optional moving square); the others are for benchmarks, where encoders and decoders
// must see realistic content:
// - talking_head: a still, detailed background (a deterministic texture: shelves,
//   gradients, fine grain) with one face-sized region that sways, nods and "talks",
//   like a webcam participant. Add noise_amplitude for sensor noise.
// - full_motion: the whole picture moves (the texture scrolls several pixels a
//   frame), like a moving handheld camera or a shared video: the worst case for
//   inter prediction.
enum class VideoContent { solid, talking_head, full_motion };

struct VideoSpec {
  int width = 320;
  int height = 180;
  int fps = 15;
  Rgb colour{200, 40, 40};
  bool moving_square = true;
  // White full-frame flashes (one frame long) at these times, for A/V sync markers.
  std::vector<int64_t> flash_at_ms;
  // Peak of uniform luma noise added to every pixel (0: none). Noise costs an encoder
  // bits the way camera sensor noise does, e.g. to fill chunks quickly in tests.
  int noise_amplitude = 0;
  std::string encoder = "libvpx";  // libvpx (VP8), libx264, mpeg4, ...
  int bframes = 0;                  // libx264: B-frames between references
  int references = 0;               // libx264: reference pictures kept (0: the preset's)
  // Frames whose time falls in these ranges are never encoded: the file's video
  // timestamps jump over them, as when a camera stalls or a sender stops sending.
  std::vector<TimeRangeMs> gaps;
  VideoContent content = VideoContent::solid;
  // Varies the texture and the face's motion between participants (talking_head,
  // full_motion); the same seed gives the same picture.
  uint32_t seed = 1;
  int bit_rate_bps = 400'000;
  // Frames between keyframes (0: two seconds' worth). A browser's WebRTC VP8 encoder
  // keys every 3000 frames and otherwise only when the receiver asks.
  int keyframe_interval_frames = 0;
  // libvpx: temporal layers (1-3). With simulcast a browser's VP8 sends three: every
  // fourth picture is the base, and the odd ones are referred to by no other picture.
  int temporal_layers = 1;
};

struct ToneSegment {
  int64_t start_ms;
  int64_t end_ms;
  double frequency_hz;
  double amplitude = 0.3;  // peak, linear full scale
};

struct AudioSpec {
  int sample_rate_hz = 48000;
  int channels = 1;
  std::vector<ToneSegment> tones;  // silence elsewhere
  std::string encoder = "libopus";  // libopus, aac, pcm_s16le, ...
  // Encoder frames whose first sample falls in these ranges are never encoded: the
  // file's audio timestamps jump over them, as with DTX or lost packets. Only
  // containers that keep timestamps (WebM/Matroska, MP4, ...) can hold such holes.
  std::vector<TimeRangeMs> gaps;
};

struct MediaSpec {
  int64_t duration_ms = 5000;
  std::optional<VideoSpec> video;
  std::optional<AudioSpec> audio;
  // WebM/Matroska: written the way a live capture is (the muxer's "live" mode): no
  // Cues index, nothing rewritten at the end.
  bool live = false;
};

// Writes `spec` to `path`. Throws callrec::Error naming the file on failure.
void write_media(const std::filesystem::path& path, const MediaSpec& spec);

}  // namespace callrec::mediagen
