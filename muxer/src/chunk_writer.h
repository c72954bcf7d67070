// One MP4 chunk: its own H.264 encoder, its muxer, and its byte budget. Audio comes
// from the recording's one continuous AAC encoder (see RecordingWriter), as packets.
//
// The chunk is written as a fragmented MP4 to a hidden temporary file in the output
// directory (recoverable after a crash); close() remuxes it into a regular faststart
// MP4 under another temporary name and renames that into place, so a complete .mp4
// appears atomically.
//
// Gapless audio: the chunk's audio covers recording samples [start, end), and both are
// boundaries of the continuous encoder's AAC frames (multiples of 1024) except the
// recording's own end: so the chunk's last AAC frame ends where its audio ends, and a
// player or tool that ignores the end of an edit list (ffmpeg does) plays no more than
// the chunk holds; chunks played in a row repeat nothing. AAC packet t (pts t in
// recording samples) decodes to samples [t, t + 1024), but only correctly when packet
// t - 1024 was decoded first (MDCT overlap). So the chunk's audio track starts with the
// packet before the one holding `start` (priming), and its edit list skips that packet
// and ends at `end`: decoded and concatenated, the chunks give the samples of one
// continuous encode. The chunk's video periods cover [periods_start, ...), which the
// audio boundaries follow to the nearest AAC frame (RecordingWriter).
//
// Budget: video is written a group of pictures at a time, a group being the packets
// that complete the next pictures in presentation order (one picture without B-frames;
// a reference picture and the B-frames before it otherwise), so the chunk can end after
// any group and still hold every picture up to there. Before a group is written, the
// final size of the file if the chunk ended right after it is bounded from above; a
// group that would cross max_bytes is refused and the caller starts a new chunk with its
// periods (re-encoding their pictures there). The final file never exceeds max_bytes.
//
// B-frames: the first decode times lie before the first picture (x264 gives the first
// packet dts -1 or -2). A fragmented file cannot carry the edit list that would present
// such a track from picture 0: its track must start at decode time 0 (the muxer would
// otherwise stretch the first sample), and negative timestamps would make the muxer
// shift every track. So the fragmented file holds the video that many pictures late,
// and the remux moves it back, where the edit list is written (as for the audio's
// priming).
//
// Threading: used by the writer's thread; its encoder is used by the writer's encode
// worker, never by both at once. Lifetime: destroying an unclosed
// chunk leaves its temporary file behind (it is what a crash would leave).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "callrec/core/av.h"
#include "callrec/muxer/recording_writer.h"
#include "video_encoder.h"

namespace callrec::muxer {

// Samples of one AAC frame (and of the priming packet a chunk starts with).
inline constexpr int64_t kAacFrameSamples = 1024;
// The largest AAC-LC frame of one channel: 6144 bits (ISO/IEC 14496-3, 4.5.3.2).
inline constexpr int64_t kMaxAacFrameBytes = 6144 / 8;

struct ClosedChunk {
  std::filesystem::path path;  // final .mp4
  uint64_t size_bytes;
  int64_t video_frames;
  int64_t audio_samples;  // decoded samples after the edit list
  uint64_t video_bytes;   // the H.264 packets' bytes
};

// The AAC frame boundary of the continuous encoder nearest to recording sample `sample`
// (ties go up): where a chunk whose video ends at `sample` ends its audio.
int64_t nearest_audio_frame_boundary(int64_t sample);

// Upper bound of the moov atom for a file with these sample counts (what faststart
// moves to the front). Exposed for tests and the benchmark.
uint64_t max_moov_bytes(int64_t video_samples, int64_t audio_samples, uint64_t max_file_bytes);

// The pts of the first AAC packet a chunk starting at recording sample `start_sample`
// holds: the packet before the one that decodes `start_sample`.
int64_t first_audio_packet_pts(int64_t start_sample);
// Samples of that packet (and the one after it) before `start_sample`: what the chunk's
// edit list skips.
inline int64_t audio_priming_samples(int64_t start_sample) {
  return start_sample - first_audio_packet_pts(start_sample);
}

class ChunkWriter {
 public:
  // `audio_encoder` gives the audio stream's parameters; `start_sample` is the
  // recording sample the chunk's audio starts at, `periods_start_sample` the one its
  // first period's audio starts at (its video's start; within an AAC frame of it).
  ChunkWriter(std::filesystem::path final_path, const EncoderSettings& settings, uint64_t max_bytes,
              const AVCodecContext& audio_encoder, int64_t start_sample, int64_t periods_start_sample);
  ~ChunkWriter();
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

  // The chunk's H.264 encoder. The writer runs it (on its encode worker) and hands the
  // packets back through try_write_video(); the chunk itself never calls it.
  VideoEncoder& video_encoder() { return video_; }

  // Writes a group of video packets (consumed; decode order, pts = picture number in
  // the chunk) that completes the next pictures, if the chunk can still hold them with
  // `audio_samples` more samples of audio (its periods'; the chunk's audio may end up
  // to half an AAC frame past them). Returns false, writing nothing, when that would
  // push the final file over max_bytes; the chunk must then be ended and the group's
  // periods start the next one. Throws callrec::Error when even an empty chunk cannot
  // hold the group, or on failure.
  [[nodiscard]] bool try_write_pictures(std::span<av::PacketPtr> group, int64_t audio_samples);

  // No more periods: the audio ends at recording sample `end_sample`.
  void end_at(int64_t end_sample);
  // Writes audio packet `packet` (pts/duration in recording samples, time base
  // 1/16000) if the chunk needs it; the packet is left untouched.
  void write_audio_packet(const AVPacket& packet);
  // After end_at(): every packet up to the end has been written.
  bool audio_complete() const;

  // Hands the completed fragments to the OS and, when a new fragment was written,
  // syncs it to disk (so a crash, or a power loss, loses at most the fragment being
  // written). Call after each period. Throws callrec::Error naming the file.
  void flush_fragments();

  // Writes the trailer and remuxes into a faststart MP4
  // renamed into place. Requires audio_complete().
  ClosedChunk close();

  int64_t video_frames() const { return video_frames_written_; }
  uint64_t video_bytes() const { return video_bytes_; }
  // Recording sample one past the written periods' audio (where the video ends).
  int64_t periods_end_sample() const { return periods_start_sample_ + audio_samples_sent_; }
  int64_t start_sample() const { return start_sample_; }
  // Samples before start_sample the fragmented file holds (the priming), i.e. how far
  // its audio is shifted; recover_recording() needs it.
  int64_t audio_priming_samples() const { return muxer::audio_priming_samples(start_sample_); }
  // The fragmented file being written (what a crash leaves behind).
  const std::filesystem::path& temp_path() const { return temp_path_; }
  std::filesystem::path remux_temp_path() const;

 private:
  void write_packet(AVPacket& packet, int stream_index);
  // Audio packets the chunk holds once its audio ends at `end_sample`.
  int64_t audio_packets_until(int64_t end_sample) const;

  std::filesystem::path final_path_;
  std::filesystem::path temp_path_;
  std::string what_;  // the final file name, for error messages
  uint64_t max_bytes_;
  int64_t start_sample_;
  int64_t periods_start_sample_;
  int64_t first_audio_pts_;
  std::optional<int64_t> end_sample_;
  int64_t audio_written_until_;  // recording sample the written audio packets reach
  VideoEncoder video_;
  av::OutputFormatPtr format_;
  ScopedFd sync_fd_;  // the temporary file, for fdatasync (libavformat hides its fd)
  uint64_t synced_bytes_ = 0;
  av::PacketPtr packet_;
  uint64_t payload_bytes_ = 0;  // sum of the packets handed to the muxer
  uint64_t video_bytes_ = 0;    // of which H.264
  int64_t audio_packets_ = 0;
  int64_t audio_samples_sent_ = 0;  // audio of accepted periods
  int64_t video_frames_written_ = 0;
  int64_t video_shift_ = 0;  // pictures the fragmented file holds the video late (B-frames)
  bool closed_ = false;
};

}  // namespace callrec::muxer
