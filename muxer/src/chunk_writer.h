// One MP4 chunk: its own encoders, its muxer, and its byte budget.
//
// The chunk is written as a fragmented MP4 to a hidden temporary file in the output
// directory (recoverable after a crash); close() remuxes it into a regular faststart
// MP4 under another temporary name and renames that into place, so a complete .mp4
// appears atomically.
//
// Budget: before a period's packets are written, the final size of the file if the
// chunk were closed right after this period is bounded from above (see
// ChunkWriter::projected_final_bytes); a period that would cross max_bytes is refused
// and the caller starts a new chunk with it. The final file never exceeds max_bytes.
//
// Threading: used by one thread (the writer's). Lifetime: destroying an unclosed
// chunk leaves its temporary file behind (it is what a crash would leave).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "audio_encoder.h"
#include "callrec/core/av.h"
#include "callrec/muxer/recording_writer.h"
#include "video_encoder.h"

namespace callrec::muxer {

struct ClosedChunk {
  std::filesystem::path path;  // final .mp4
  uint64_t size_bytes;
  int64_t video_frames;
  int64_t audio_samples;
};

// Upper bound of the moov atom for a file with these sample counts (what faststart
// moves to the front). Exposed for tests and the benchmark.
uint64_t max_moov_bytes(int64_t video_samples, int64_t audio_samples, uint64_t max_file_bytes);

class ChunkWriter {
 public:
  ChunkWriter(std::filesystem::path final_path, const EncoderSettings& settings, uint64_t max_bytes);
  ~ChunkWriter();
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

  // Encodes one period. Returns false, writing nothing of it, when it would push the
  // final file over max_bytes; the chunk must then be closed (the refused frame was
  // consumed by this chunk's encoder, so only close() may follow). Throws
  // callrec::Error when even an empty chunk cannot hold the period, or on failure.
  [[nodiscard]] bool try_write_period(const AVFrame& canvas, std::span<const float> audio);

  // Flushes the encoders, writes the trailer (faststart: moov moved to the front) and
  // renames the file into place.
  ClosedChunk close();

  int64_t video_frames() const { return video_frames_written_; }
  // AAC encoder delay: how far the audio is offset in the fragmented file.
  int64_t audio_priming_samples() const;
  // The fragmented file being written (what a crash leaves behind).
  const std::filesystem::path& temp_path() const { return temp_path_; }
  std::filesystem::path remux_temp_path() const;

 private:
  void write_packet(AVPacket& packet, int stream_index, const AVCodecContext& encoder);
  void drain_audio();
  void drain_video();

  std::filesystem::path final_path_;
  std::filesystem::path temp_path_;
  std::string what_;  // the final file name, for error messages
  uint64_t max_bytes_;
  VideoEncoder video_;
  AudioEncoder audio_;
  av::OutputFormatPtr format_;
  av::PacketPtr packet_;
  // Video packets of the period under decision. With zerolatency there is one; the
  // vector only grows if the encoder ever emits more, and is reused across periods.
  std::vector<av::PacketPtr> held_video_;
  size_t held_video_count_ = 0;

  uint64_t payload_bytes_ = 0;  // sum of the packets handed to the muxer
  int64_t video_packets_ = 0;
  int64_t audio_packets_ = 0;
  int64_t largest_video_packet_bytes_ = 0;
  int64_t video_frames_written_ = 0;
  bool closed_ = false;
};

}  // namespace callrec::muxer
