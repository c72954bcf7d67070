// RecordingWriter: encodes the output periods into MP4 chunks under a byte budget and
// writes each chunk's metadata JSON and the recording's notification JSON.
//
// Output timeline: the recording with paused time removed. It is cut into periods of
// 1/8 s: period k is video frame k (shown for [k/8 s, (k+1)/8 s)) plus the 2000 audio
// samples of that interval. Timestamps come from these counters (video pts = k,
// audio pts = samples written), never from inputs.
//
// Audio is one continuous AAC encode across chunks, so the chunks' decoded audio joins
// sample for sample; a chunk that ended is closed (its .mp4 and .json appear) once the
// encoder has emitted the packets that decode its last samples, one to three periods
// later. Video starts each chunk with a fresh encoder and a keyframe.
//
// Files appear atomically: a chunk's .mp4 is complete before its .json is renamed into
// place; JSON is written to a temporary file and renamed.
//
// Threading: owned and used by one thread (the engine's output thread). Inside, each
// period's H.264 encode runs on a worker thread of the writer's own while the caller
// goes on to the next period; write_period returns once the period before is encoded,
// so at most one period (plus the encoder's lookahead) is between the caller and the
// file, and errors surface from the next call.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callrec/core/media_time.h"
#include "callrec/core/wall_clock.h"

extern "C" struct AVFrame;

namespace callrec::muxer {

inline constexpr int kFrameRate = 8;
inline constexpr Rational kVideoTimeBase{1, kFrameRate};
inline constexpr int kSampleRateHz = 16000;
inline constexpr int kSamplesPerPeriod = kSampleRateHz / kFrameRate;  // 2000
inline constexpr int kVideoWidth = 1920;
inline constexpr int kVideoHeight = 1080;
inline constexpr uint64_t kDefaultMaxChunkBytes = 512ULL * 1024 * 1024;

// How the H.264 encoder spends its bits (docs/encoder-settings.md has the measurements).
enum class VideoRateControl {
  // Constant quality (`video_quality`): every picture gets the bits its content needs,
  // keyframes included, so the picture neither pulses at keyframes nor ramps up at the
  // start. File size follows the content. `callrec render`'s default.
  kQuality,
  // An average bit rate (`video_bitrate_bps`) over the recording: the writer steers the
  // quality from the bits it has written (keyframes counted at their share of the
  // interval), slowly enough that the picture holds steady; chunks carry the steering
  // on, so a chunk's start does not ramp. x264's VBV at twice the rate is the backstop
  // for what the steering cannot foresee (so that no picture outgrows a chunk), with a
  // buffer of two keyframe intervals at the rate, at most a quarter of maxChunkBytes
  // and at least kVbvBufferSeconds: big enough for the first keyframe of a detailed grid.
  kAverageBitrate,
  // Constant quality (`video_quality`) under a ceiling (`video_bitrate_bps`): the writer
  // raises the quantizer smoothly when the content would need more, and x264's VBV
  // bounds every stretch of t seconds to (t + kVbvBufferSeconds) x the ceiling. No
  // lookahead: each picture is coded as it comes. Live sessions' default.
  kCappedQuality,
};

// The VBV buffer of kCappedQuality, in seconds at the ceiling: room for a keyframe at
// the quality the steering keeps (about 1.3 s of the rate) and the swings of a call;
// kAverageBitrate's smallest.
inline constexpr int kVbvBufferSeconds = 4;

struct EncoderSettings {
  VideoRateControl video_rate_control = VideoRateControl::kQuality;
  // kQuality and kCappedQuality: the picture quality on x264's CRF scale, 0 to 51 (lower
  // is better; 0 is lossless, for reference renders; about 6 more halves the bits).
  // 23, x264's and ffmpeg's default, spends about what `ffmpeg -c:v libx264` does on
  // the same call (docs/performance.md).
  int video_quality = 23;
  // kAverageBitrate: the average; kCappedQuality: the ceiling. Unused by kQuality.
  int video_bitrate_bps = 1'000'000;
  // 48 kbit/s: at 32 kbit/s the native AAC encoder overshoots loud, dense mixes by up to
  // 45 % (decoded peaks beyond full scale even from a -2.5 dBFS limiter); at 48 kbit/s
  // it stays within the limiter's headroom, for 2 KB/s more.
  int audio_bitrate_bps = 48'000;
  // H.264 rate-control lookahead in pictures (0 to 16); 0 is x264's zerolatency. A
  // lookahead lets x264 run its macroblock tree, and costs about 9 MB of memory per
  // picture and that many periods (125 ms each) of delay before a period reaches the
  // file. See docs/performance.md.
  int video_lookahead_frames = 0;
  // Weight each macroblock's quantizer by how much the following pictures are likely to
  // reuse it, judged from the pictures before (the still background of a grid is coded
  // well once, then reused). With a lookahead x264's own macroblock tree does this, and
  // the estimate is given half the weight. See docs/performance.md.
  bool video_reuse_weighting = true;
  // Longest stretch between H.264 keyframes, in seconds (1 to 60). Every chunk starts
  // with one. A keyframe of a still, detailed grid costs the bits of ten other pictures:
  // 30 s (about x264's default of 250 pictures at 8 fps) spends 12 % fewer bits than
  // 10 s for the same picture on talking heads; a player seeking decodes at most 240
  // pictures from the keyframe before (docs/encoder-settings.md).
  int keyframe_interval_s = 30;
  // B-frames between reference pictures (0 to 3), in a fixed pattern. A B-frame is
  // predicted from the pictures on both sides, so what moves is coded from whichever
  // side shows it best, for more memory (the pictures they hold inside the encoder and
  // the writer) and three periods (375 ms) more before a period reaches the file. See
  // docs/performance.md.
  int video_bframes = 2;
};

struct PauseInterval {
  WallClock start;      // wall-clock time the pause began
  int64_t duration_ms;  // how long it lasted
};

// What the engine knows about a stretch of the output timeline and the muxer does not.
struct ChunkAnnotation {
  WallClock start_time;                      // wall-clock time of the chunk's first media
  std::vector<PauseInterval> pauses;         // pauses that fall inside the chunk
  std::vector<std::string> participant_ids;  // everyone present in the chunk
  nlohmann::json extra = nlohmann::json::object();  // extra metadata fields, merged in
};

// Implemented by the engine; called on the writer's thread.
class ChunkAnnotator {
 public:
  virtual ~ChunkAnnotator() = default;
  // For the chunk holding output time [start, end). A pause at output position p belongs
  // to the chunk with start <= p < end, or p == end when `last_chunk`.
  virtual ChunkAnnotation annotate(MediaTime output_start, MediaTime output_end, bool last_chunk) = 0;
  // After a chunk's .mp4 and .json are in place; `metadata` is the JSON written.
  virtual void chunk_written(const nlohmann::json& metadata) { (void)metadata; }
};

struct RecordingConfig {
  std::filesystem::path out_dir;
  std::string call_id;
  std::string resource_id;   // "" when absent
  std::string recording_id;  // carried into extra fields; not used for file names
  WallClock recording_start_time;
  uint64_t max_chunk_bytes = kDefaultMaxChunkBytes;
  EncoderSettings encoder;
};

class RecordingWriter {
 public:
  // Throws callrec::Error when the output directory cannot be created or written.
  RecordingWriter(RecordingConfig config, ChunkAnnotator& annotator);
  ~RecordingWriter();
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  // One period: `video` is 1920x1080 yuv420p; `audio` holds kSamplesPerPeriod mono
  // samples in [-1, 1] (fewer only in the last period). A reference-counted `video`
  // (buf[0] set) is referenced until its picture is written, not copied: its owner
  // writes into that buffer again only once av_frame_is_writable says no one else holds
  // it (av_frame_make_writable does so), as FFmpeg's frames are shared. Other pictures
  // are copied. When the period would push the
  // chunk over max_chunk_bytes, the chunk ends ("ChunkMaximumSizeExceeded") and the
  // period starts the next one, with a keyframe and timestamps from 0.
  // Throws callrec::Error on an encoder or storage failure; chunks already closed stay.
  void write_period(const AVFrame& video, std::span<const float> audio);

  // Closes the last chunk ("SessionEnded") and writes recording.json.
  // Returns the notification written. Throws callrec::Error when there is nothing
  // recorded (no period was written) or storage fails.
  nlohmann::json finish(const std::string& session_end_reason);

  // Output time written so far (the periods whose video is in a chunk; the newest
  // one or two may still be encoding).
  MediaTime duration() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec::muxer
