#include "callrec/muxer/recording_writer.h"

#include <cstdio>
#include <optional>
#include <utility>

#include "atomic_file.h"
#include "callrec/core/error.h"
#include "chunk_metadata.h"
#include "chunk_writer.h"
#include "random_id.h"

namespace callrec::muxer {
namespace {

constexpr const char* kEndReasonSizeExceeded = "ChunkMaximumSizeExceeded";
constexpr const char* kEndReasonSessionEnded = "SessionEnded";

// Zero-padded so that sorting file names sorts chunks (6 digits: a million chunks).
std::string document_id(const std::string& recording_token, int chunk_index) {
  char index[16];
  std::snprintf(index, sizeof index, "%06d", chunk_index);
  return recording_token + "-" + index;
}

}  // namespace

struct RecordingWriter::Impl {
  Impl(RecordingConfig config_in, ChunkAnnotator& annotator_in)
      : config(std::move(config_in)), annotator(annotator_in), token(random_hex_128()) {}

  void open_chunk() {
    chunk.emplace(config.out_dir / (document_id(token, chunk_index) + ".mp4"), config.encoder,
                  config.max_chunk_bytes);
  }

  void close_chunk(const char* end_reason, bool last_chunk) {
    const ClosedChunk closed = chunk->close();
    chunk.reset();
    const MediaTime start(chunk_start_frame, kVideoTimeBase);
    const MediaTime end(frames_written, kVideoTimeBase);
    const ChunkAnnotation annotation = annotator.annotate(start, end, last_chunk);

    const int64_t video_ms = MediaTime(closed.video_frames, kVideoTimeBase).ms();
    const int64_t audio_ms = MediaTime(closed.audio_samples, Rational{1, kSampleRateHz}).ms();
    const ChunkFacts facts{document_id(token, chunk_index), chunk_index, std::max(video_ms, audio_ms),
                           closed.size_bytes, sha256_file_hex(closed.path)};
    const nlohmann::json metadata = chunk_metadata(config, facts, annotation);
    write_file_atomically(config.out_dir / (facts.document_id + ".json"), metadata.dump(2));
    summaries.push_back(ChunkSummary{facts.document_id, chunk_index, end_reason});
    ++chunk_index;
    chunk_start_frame = frames_written;
    annotator.chunk_written(metadata);
  }

  RecordingConfig config;
  ChunkAnnotator& annotator;
  const std::string token;  // random per recording; the documentId prefix
  std::optional<ChunkWriter> chunk;
  int chunk_index = 0;
  int64_t chunk_start_frame = 0;
  int64_t frames_written = 0;
  std::vector<ChunkSummary> summaries;
  bool finished = false;
  bool failed = false;  // a storage/encoder error left the open chunk unusable
};

RecordingWriter::RecordingWriter(RecordingConfig config, ChunkAnnotator& annotator)
    : impl_(std::make_unique<Impl>(std::move(config), annotator)) {
  ensure_writable_directory(impl_->config.out_dir);
}

RecordingWriter::~RecordingWriter() = default;

void RecordingWriter::write_period(const AVFrame& video, std::span<const float> audio) {
  Impl& s = *impl_;
  if (s.finished) throw Error("muxer: write_period after finish");
  if (s.failed) throw Error("muxer: write_period after an earlier failure");
  if (audio.size() > static_cast<size_t>(kSamplesPerPeriod)) {
    throw Error("muxer: a period holds at most 2000 audio samples, got " + std::to_string(audio.size()));
  }
  check_canvas(video);
  try {
    if (!s.chunk) s.open_chunk();
    if (!s.chunk->try_write_period(video, audio)) {
      s.close_chunk(kEndReasonSizeExceeded, /*last_chunk=*/false);
      s.open_chunk();
      // A fresh chunk refuses a period only by throwing (limit too small).
      if (!s.chunk->try_write_period(video, audio)) throw Error("muxer: period refused by an empty chunk");
    }
  } catch (...) {
    s.failed = true;
    throw;
  }
  ++s.frames_written;
}

nlohmann::json RecordingWriter::finish(const std::string& session_end_reason) {
  Impl& s = *impl_;
  if (s.finished) throw Error("muxer: finish called twice");
  if (s.failed) throw Error("muxer: cannot finish after an earlier failure");
  if (s.frames_written == 0) throw Error("muxer: nothing was recorded (no period written)");
  s.finished = true;
  s.close_chunk(kEndReasonSessionEnded, /*last_chunk=*/true);
  const nlohmann::json notification =
      recording_notification(s.config, random_uuid_v4(), s.summaries, duration().ms(), session_end_reason,
                             wall_clock_now());
  write_file_atomically(s.config.out_dir / "recording.json", notification.dump(2));
  return notification;
}

MediaTime RecordingWriter::duration() const { return MediaTime(impl_->frames_written, kVideoTimeBase); }

}  // namespace callrec::muxer
