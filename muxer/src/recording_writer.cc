#include "callrec/muxer/recording_writer.h"

#include <cstdio>
#include <deque>
#include <future>
#include <memory>
#include <optional>
#include <utility>

#include "atomic_file.h"
#include "audio_encoder.h"
#include "callrec/core/error.h"
#include "chunk_metadata.h"
#include "chunk_writer.h"
#include "picture_groups.h"
#include "quality_steering.h"
#include "callrec/core/random_id.h"
#include "recording_state.h"
#include "serial_worker.h"
#include "video_encoder.h"

extern "C" {
#include <libavcodec/packet.h>
#include <libavutil/frame.h>
}

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

// A chunk that was opened and not yet closed. It has ended (no more periods) but
// stays open while the continuous AAC encoder still owes it the packets that decode
// its last samples (the encoder's delay and lookahead: up to three 1024-sample frames
// after the chunk's end).
struct OpenChunk {
  std::unique_ptr<ChunkWriter> writer;
  int index = 0;
  int64_t start_frame = 0;
  int64_t end_frame = 0;
  OpenChunkState state;  // as in state_file
  std::filesystem::path state_file;
  const char* end_reason = nullptr;  // set when the chunk ends
  ChunkAnnotation annotation;        // made when the chunk ends
};

// A period given to the open chunk's encoder and not yet in the file: its picture is
// kept until its packet is written, because a chunk that cannot take the packet (or
// the group of packets it belongs to) ends and the next chunk encodes the picture again.
struct PendingPeriod {
  av::FramePtr picture;  // with its quantizer offsets once analysed
  std::vector<float> audio;
  bool analysed = false;  // the reuse weighting has seen the picture (once, in order)
  double crf = 0;         // the quality it was last handed to an encoder at
};

struct RecordingWriter::Impl {
  Impl(RecordingConfig config_in, ChunkAnnotator& annotator_in)
      : config(std::move(config_in)),
        annotator(annotator_in),
        token(random_hex_128()),
        audio(config.encoder, "recording audio"),
        audio_packet(av::make_packet()),
        reuse_weighting(VideoEncoder::make_reuse_weighting(config.encoder)),
        steering(config.encoder),
        next_start_estimate(config.recording_start_time) {}

  // Writes the next chunk's state file (for recover_recording), then opens the chunk:
  // in that order, a crash in between leaves no temporary file that no state file
  // names. The state file of an ended chunk stays until that chunk is closed.
  void open_chunk() {
    const std::string id = document_id(token, chunk_index);
    auto chunk = std::make_unique<OpenChunk>();
    chunk->index = chunk_index;
    chunk->start_frame = frames_written;
    OpenChunkState state;
    state.config = config;
    state.document_id = id;
    state.chunk_index = chunk_index;
    state.start_frames = frames_written;
    state.estimated_start_time = next_start_estimate;
    state.participant_ids = last_participants;
    state.previous_chunks = summaries;
    state.audio_priming_samples = audio_priming_samples(next_audio_start);
    chunk->state_file = state_path(config.out_dir, id);
    write_state(chunk->state_file, state);
    try {
      chunk->writer = std::make_unique<ChunkWriter>(config.out_dir / (id + ".mp4"), config.encoder,
                                                    config.max_chunk_bytes, audio.context(), next_audio_start,
                                                    samples_written);
    } catch (...) {
      std::error_code ignored;  // the chunk never started: nothing for a recovery to find
      std::filesystem::remove(chunk->state_file, ignored);
      throw;
    }
    chunk->state = std::move(state);
    current = std::move(chunk);
    ++chunk_index;
  }

  // The current chunk takes no more periods; it closes once its audio is complete.
  // Its audio ends at the AAC frame boundary nearest its video's end, where the next
  // chunk's audio starts (so neither holds a partial frame a player could play twice),
  // or at the recording's end.
  void end_current(const char* end_reason, bool last_chunk) {
    OpenChunk& c = *current;
    c.end_reason = end_reason;
    c.end_frame = frames_written;
    next_audio_start = last_chunk ? samples_written : nearest_audio_frame_boundary(samples_written);
    c.writer->end_at(next_audio_start);
    c.annotation = annotator.annotate(MediaTime(c.start_frame, kVideoTimeBase),
                                      MediaTime(c.end_frame, kVideoTimeBase), last_chunk);
    int64_t paused_ms = 0;
    for (const PauseInterval& pause : c.annotation.pauses) paused_ms += pause.duration_ms;
    next_start_estimate = WallClock{c.annotation.start_time.unix_us +
                                    MediaTime(c.end_frame - c.start_frame, kVideoTimeBase).us() + paused_ms * 1000};
    last_participants = c.annotation.participant_ids;
    ending.push_back(std::move(current));
  }

  // Hands every packet the encoder has to the chunks that hold it, then closes the
  // ended chunks whose audio is complete (in order).
  void route_audio() {
    while (audio.receive(*audio_packet) == ReceiveStatus::kPacket) {
      for (const auto& chunk : ending) chunk->writer->write_audio_packet(*audio_packet);
      if (current) current->writer->write_audio_packet(*audio_packet);
    }
    while (!ending.empty() && ending.front()->writer->audio_complete()) {
      close_chunk(*ending.front());
      ending.pop_front();
    }
  }

  void close_chunk(OpenChunk& c) {
    const ClosedChunk closed = c.writer->close();
    c.writer.reset();
    const int64_t video_ms = MediaTime(closed.video_frames, kVideoTimeBase).ms();
    const int64_t audio_ms = MediaTime(closed.audio_samples, Rational{1, kSampleRateHz}).ms();
    const std::string id = document_id(token, c.index);
    // The chunk's duration is its video's: its audio ends within half an AAC frame of it
    // (32 ms), where the next chunk's starts.
    ChunkFacts facts{id, c.index, closed.video_frames > 0 ? video_ms : audio_ms, closed.size_bytes,
                     sha256_file_hex(closed.path)};
    if (config.encoder.video_rate_control != VideoRateControl::kAverageBitrate && closed.video_frames > 0) {
      facts.video_bit_rate = static_cast<int64_t>(closed.video_bytes * 8 * kFrameRate / closed.video_frames);
    }
    ChunkAnnotation annotated = c.annotation;
    annotated.extra["endReason"] = c.end_reason;
    annotated.extra["videoFrames"] = closed.video_frames;
    annotated.extra["audioSamples"] = closed.audio_samples;
    const nlohmann::json metadata = chunk_metadata(config, facts, annotated);
    write_file_atomically(config.out_dir / (id + ".json"), metadata.dump(2));
    summaries.push_back(ChunkSummary{id, c.index, c.end_reason});
    // The last chunk's state file stays until recording.json is in place: it is what
    // lets a recovery write recording.json after a crash in between.
    if (c.end_reason == kEndReasonSessionEnded) {
      last_state_file = c.state_file;
    } else {
      // The state files of the chunks after this one list the closed chunks for
      // recovery: they must name this one before this one's own state file goes. All
      // of them, not only the open chunk's: a chunk that ended within a few periods of
      // its start can still be waiting for its audio when this one closes, and recovery
      // takes the closed chunks from the oldest unfinished chunk's state file.
      auto list_closed_chunks = [this](OpenChunk& later) {
        later.state.previous_chunks = summaries;
        write_state(later.state_file, later.state);
      };
      for (const auto& later : ending) {
        if (later.get() != &c) list_closed_chunks(*later);
      }
      if (current) list_closed_chunks(*current);
      std::error_code ignored;  // a stale state file only makes a later recovery a no-op
      std::filesystem::remove(c.state_file, ignored);
    }
    annotator.chunk_written(metadata);
  }

  // A pending period holding the caller's canvas and a copy of its audio, in a period
  // recycled from the written ones when there is one. The picture shares the canvas's
  // buffer when it is reference-counted: its owner paints into that buffer again only
  // once it is writable (the compositor paints the next period into another canvas
  // meanwhile: take_writable_canvas in compositor/src/video_compositor.cc).
  // av_frame_ref copies a canvas without buffers.
  PendingPeriod take_period(const AVFrame& canvas, std::span<const float> samples) {
    PendingPeriod period;
    if (spare.empty()) {
      period.picture = av::make_frame();
    } else {
      period = std::move(spare.back());
      spare.pop_back();
      period.analysed = false;  // a new picture, without offsets yet
    }
    check_av(av_frame_ref(period.picture.get(), &canvas), "muxer: taking the canvas");
    period.audio.assign(samples.begin(), samples.end());
    return period;
  }

  // Queues the encode of `period`'s picture on the open chunk's encoder, at the quality
  // the steering asks now. The reuse weighting sees each picture once, the first time
  // it is encoded (a picture coded again by the next chunk keeps its offsets).
  void submit_encode(PendingPeriod& period) {
    VideoEncoder* encoder = &current->writer->video_encoder();
    AVFrame* picture = period.picture.get();
    ReuseWeighting* weighting = period.analysed ? nullptr : reuse_weighting.get();
    period.analysed = true;
    period.crf = steering.crf();
    jobs.push_back(worker.submit([encoder, picture, weighting, crf = period.crf] {
      if (weighting != nullptr) weighting->annotate(*picture);
      return encoder->encode(*picture, crf);
    }));
  }

  // Waits for the oldest encode job and writes the periods its packets complete.
  void take_job() {
    Packets packets = jobs.front().get();
    jobs.pop_front();
    for (av::PacketPtr& packet : packets) {
      // The packet's pts is its picture's number in the chunk; pending.front() holds
      // the first picture not yet written.
      const int64_t picture = packet->pts;
      const int64_t written = current->writer->video_frames();
      if (picture < written || picture - written >= static_cast<int64_t>(pending.size())) {
        throw Error("muxer: internal error: the H.264 encoder gave a packet for picture " + std::to_string(picture) +
                    ", not one of the " + std::to_string(pending.size()) + " pending from " + std::to_string(written));
      }
      group.push_back(std::move(packet));
      // Written a group at a time: a chunk must show every picture up to where it ends.
      if (groups.add(picture)) {
        if (!write_group()) {
          start_next_chunk();
          return;  // the rest of this job's packets came from the ended chunk's encoder
        }
      }
    }
  }

  // Writes the group's packets and sends its periods' audio; false (nothing written)
  // when the chunk cannot hold them.
  bool write_group() {
    int64_t audio_samples = 0;
    uint64_t video_bytes = 0;
    bool keyframe = false;
    double crf_sum = 0;
    for (size_t k = 0; k < group.size(); ++k) {
      audio_samples += static_cast<int64_t>(pending[k].audio.size());
      video_bytes += static_cast<uint64_t>(group[k]->size);
      keyframe = keyframe || (group[k]->flags & AV_PKT_FLAG_KEY) != 0;
      crf_sum += pending[k].crf;
    }
    if (!current->writer->try_write_pictures(group, audio_samples)) return false;
    steering.written(video_bytes, static_cast<int>(group.size()), crf_sum / static_cast<double>(group.size()), keyframe);
    for (size_t k = 0; k < group.size(); ++k) {
      PendingPeriod& period = pending.front();
      audio.send(period.audio);
      samples_written += static_cast<int64_t>(period.audio.size());
      ++frames_written;
      route_audio();
      // The canvas goes back to its owner now (and the offsets with it).
      av_frame_unref(period.picture.get());
      spare.push_back(std::move(period));
      pending.pop_front();
    }
    group.clear();
    return true;
  }

  // The open chunk is full: it ends after the periods written so far, and the next
  // chunk (with a fresh encoder and a keyframe) encodes the pending periods again.
  void start_next_chunk() {
    // What the ended chunk's encoder still works on is discarded, but it must finish
    // before the encoder goes.
    for (auto& job : jobs) job.get();
    jobs.clear();
    group.clear();
    groups = PictureGroups();
    end_current(kEndReasonSizeExceeded, /*last_chunk=*/false);
    open_chunk();
    for (PendingPeriod& period : pending) submit_encode(period);
  }

  // Writes every pending period: waits for the jobs, then flushes the encoder (a
  // lookahead keeps pictures inside until then), again after any chunk change.
  void drain_encoder() {
    while (!pending.empty()) {
      while (!jobs.empty()) take_job();
      if (pending.empty()) break;
      VideoEncoder* encoder = &current->writer->video_encoder();
      const int chunk_before = chunk_index;
      jobs.push_back(worker.submit([encoder] { return encoder->flush(); }));
      take_job();
      if (chunk_index == chunk_before && !pending.empty()) {
        throw Error("muxer: internal error: the H.264 encoder kept pictures after a flush");
      }
    }
  }

  RecordingConfig config;
  ChunkAnnotator& annotator;
  const std::string token;  // random per recording; the documentId prefix
  // One AAC encoder for the whole recording: chunk boundaries do not restart it, so
  // the chunks' audio joins without a seam (see ChunkWriter).
  AudioEncoder audio;
  av::PacketPtr audio_packet;
  // For the whole recording, across chunks: a chunk's first keyframe gets the offsets
  // and the quality the pictures before it had, not a fresh start.
  std::unique_ptr<ReuseWeighting> reuse_weighting;  // null when off; used on the worker
  QualitySteering steering;
  std::unique_ptr<OpenChunk> current;        // takes the periods
  std::deque<std::unique_ptr<OpenChunk>> ending;  // ended, waiting for their last audio
  int chunk_index = 0;  // of the next chunk to open
  int64_t frames_written = 0;
  int64_t samples_written = 0;
  int64_t next_audio_start = 0;  // recording sample the next chunk's audio starts at
  std::vector<ChunkSummary> summaries;
  // For the state file: guesses of the next chunk's annotation, used only by recovery.
  WallClock next_start_estimate{0};
  std::vector<std::string> last_participants;
  std::filesystem::path last_state_file;
  bool finished = false;
  bool failed = false;  // a storage/encoder error left the open chunk unusable
  std::deque<PendingPeriod> pending;              // oldest first
  std::deque<std::future<Packets>> jobs;          // on the open chunk's encoder, oldest first
  // Packets taken from the open chunk's encoder and not yet written (an incomplete
  // group), and where its groups end (pictures counted from the chunk's first).
  Packets group;
  PictureGroups groups;
  std::vector<PendingPeriod> spare;               // written periods, emptied, for reuse
  // Last: destroyed first, so no job runs once the encoders and pictures go.
  SerialWorker<Packets> worker;
};

RecordingWriter::RecordingWriter(RecordingConfig config, ChunkAnnotator& annotator)
    : impl_(std::make_unique<Impl>(std::move(config), annotator)) {
  report_file_size_limit_as_error();
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
    if (!s.current) s.open_chunk();
    // One encode job runs when write_period returns, this period's: x264 encodes period
    // k while the caller composes period k + 1. The period before's job is taken back
    // before this picture is taken, so the group it completes lets its pictures go
    // first (one 3 MiB picture fewer held); x264 waits only for the group's writing.
    while (!s.jobs.empty()) s.take_job();
    s.pending.push_back(s.take_period(video, audio));
    s.submit_encode(s.pending.back());
    s.current->writer->flush_fragments();
    for (const auto& chunk : s.ending) chunk->writer->flush_fragments();
  } catch (...) {
    s.failed = true;
    throw;
  }
}

nlohmann::json RecordingWriter::finish(const std::string& session_end_reason) {
  Impl& s = *impl_;
  if (s.finished) throw Error("muxer: finish called twice");
  if (s.failed) throw Error("muxer: cannot finish after an earlier failure");
  if (s.frames_written == 0 && s.pending.empty()) throw Error("muxer: nothing was recorded (no period written)");
  s.finished = true;
  try {
    s.drain_encoder();
  } catch (...) {
    s.failed = true;
    throw;
  }
  s.end_current(kEndReasonSessionEnded, /*last_chunk=*/true);
  s.audio.flush();
  s.route_audio();
  if (!s.ending.empty()) throw Error("muxer: internal error: the AAC encoder ended before the last chunk's audio");
  const nlohmann::json notification =
      recording_notification(s.config, random_uuid_v4(), s.summaries, duration().ms(), session_end_reason,
                             wall_clock_now());
  write_file_atomically(s.config.out_dir / "recording.json", notification.dump(2));
  std::error_code ignored;
  std::filesystem::remove(s.last_state_file, ignored);
  return notification;
}

MediaTime RecordingWriter::duration() const { return MediaTime(impl_->frames_written, kVideoTimeBase); }

}  // namespace callrec::muxer
