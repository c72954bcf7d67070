#include "callrec/muxer/recording_writer.h"

#include <cstdio>
#include <optional>
#include <utility>

#include "atomic_file.h"
#include "callrec/core/error.h"
#include "chunk_metadata.h"
#include "chunk_writer.h"
#include "random_id.h"
#include "recording_state.h"

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
      : config(std::move(config_in)),
        annotator(annotator_in),
        token(random_hex_128()),
        next_start_estimate(config.recording_start_time) {}

  // Opens the next chunk and writes its state file (for recover_recording), then
  // removes the previous chunk's state file: until the new one is in place, the old
  // one is what lets a recovery finish recording.json.
  void open_chunk() {
    const std::string id = document_id(token, chunk_index);
    chunk.emplace(config.out_dir / (id + ".mp4"), config.encoder, config.max_chunk_bytes);
    OpenChunkState state;
    state.config = config;
    state.document_id = id;
    state.chunk_index = chunk_index;
    state.start_frames = frames_written;
    state.estimated_start_time = next_start_estimate;
    state.participant_ids = last_participants;
    state.previous_chunks = summaries;
    state.audio_priming_samples = chunk->audio_priming_samples();
    const std::filesystem::path path = state_path(config.out_dir, id);
    write_state(path, state);
    remove_state_file();
    current_state = path;
  }

  void remove_state_file() {
    if (current_state.empty()) return;
    std::error_code ignored;  // a stale state file only makes a later recovery a no-op
    std::filesystem::remove(current_state, ignored);
    current_state.clear();
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
    ChunkAnnotation annotated = annotation;
    annotated.extra["endReason"] = end_reason;
    annotated.extra["videoFrames"] = closed.video_frames;
    const nlohmann::json metadata = chunk_metadata(config, facts, annotated);
    write_file_atomically(config.out_dir / (facts.document_id + ".json"), metadata.dump(2));
    summaries.push_back(ChunkSummary{facts.document_id, chunk_index, end_reason});
    ++chunk_index;
    chunk_start_frame = frames_written;
    int64_t paused_ms = 0;
    for (const PauseInterval& pause : annotation.pauses) paused_ms += pause.duration_ms;
    next_start_estimate = WallClock{annotation.start_time.unix_us + (facts.duration_ms + paused_ms) * 1000};
    last_participants = annotation.participant_ids;
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
  // For the state file: guesses of the next chunk's annotation, used only by recovery.
  WallClock next_start_estimate{0};
  std::vector<std::string> last_participants;
  std::filesystem::path current_state;
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
  s.remove_state_file();
  return notification;
}

MediaTime RecordingWriter::duration() const { return MediaTime(impl_->frames_written, kVideoTimeBase); }

}  // namespace callrec::muxer
