#include "output_driver.h"

#include <algorithm>
#include <ctime>

#include "callrec/core/error.h"
#include "callrec/muxer/recovery.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/samplefmt.h>
}

namespace callrec::engine {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

const char* operation_name(Command::Kind k) {
  switch (k) {
    case Command::Kind::kStart: return "start";
    case Command::Kind::kPause: return "pause";
    case Command::Kind::kResume: return "resume";
    case Command::Kind::kStop: return "stop";
    default: return "";
  }
}

const char* item_name(const MediaItem& item) {
  switch (item.kind) {
    case MediaKind::kOpus: return "Opus packet";
    case MediaKind::kPcm: return "PCM block";
    case MediaKind::kAudioFrame: return "audio frame";
    case MediaKind::kVideoFrame: return item.track == VideoTrack::kScreen ? "screen share picture" : "picture";
    case MediaKind::kVideoPacket: return item.track == VideoTrack::kScreen ? "screen share frame" : "video frame";
  }
  return "media";
}

}  // namespace

OutputDriver::OutputDriver(OutputDriverConfig config, MediaProblemLog& problems)
    : config_(std::move(config)), problems_(problems), out_dir_(config_.core.recording.out_dir) {
  SessionCoreConfig core = config_.core;
  core.on_chunk_written = [this](const nlohmann::json& metadata) {
    SessionEvent e{SessionEventKind::kChunkFinished};
    e.data = metadata;
    emit(std::move(e));
  };
  core.problems = [this] { return problems_.take(config_.core.call_epoch); };
  core.participant_extra_stats = [this](const std::string& id) {
    nlohmann::json extra = nlohmann::json::object();
    for (const Participant& p : participants_) {
      if (p.queue->participant_id() != id) continue;
      const ParticipantCounters& c = p.queue->counters();
      extra["mediaDroppedQueueFull"] = c.dropped_queue_full.load();
      extra["mediaDroppedTimestamp"] = c.dropped_timestamp.load();
      extra["mediaDroppedUnusable"] = c.dropped_unusable.load();
      extra["rtpClockResets"] = c.rtp_reanchors.load();
      extra["videoFramesDroppedLate"] = c.video_dropped_late.load();
      extra["videoDecodeErrors"] = c.video_decode_errors.load();
      extra["keyframesWanted"] = c.keyframes_wanted.load();
    }
    return extra;
  };
  core_ = std::make_unique<SessionCore>(std::move(core), RecordTimeline(std::vector<TimelineAction>{}));
}

OutputDriver::~OutputDriver() = default;

void OutputDriver::post(Command command) {
  const std::lock_guard lock(inbox_mu_);
  inbox_.push_back(std::move(command));
  posted_.store(true, std::memory_order_release);
}

bool OutputDriver::posted() const { return posted_.load(std::memory_order_acquire); }

void OutputDriver::emit(SessionEvent event) const {
  if (config_.on_event) config_.on_event(event);
}

OutputDriver::Participant& OutputDriver::participant(const std::shared_ptr<ParticipantQueue>& queue) {
  const auto [it, added] = index_.emplace(queue.get(), participants_.size());
  if (added) participants_.emplace_back(queue, config_.open_decoder);
  return participants_[it->second];
}

void OutputDriver::take_commands() {
  {
    const std::lock_guard lock(inbox_mu_);
    taken_.swap(inbox_);
    posted_.store(false, std::memory_order_release);
  }
  for (Command& c : taken_) {
    if (c.participant) {
      participant(c.participant).commands.push_back(std::move(c));
    } else {
      apply_timeline(c);
    }
  }
  taken_.clear();
}

// Pause, resume and stop go on the record timeline at once, at the call time they were
// issued (or where the mix already is, when the output ran behind): output has not
// passed that time yet, since it stays a jitter window behind the clock.
void OutputDriver::apply_timeline(const Command& c) {
  const int64_t at_us = std::max(c.at.us(), core_->mixed_until_us());
  RecordingState state = RecordingState::kInactive;
  switch (c.kind) {
    case Command::Kind::kStart: state = RecordingState::kActive; break;
    case Command::Kind::kPause: core_->timeline().apply(TimelineActionKind::kPause, at_us); break;
    case Command::Kind::kResume:
      core_->timeline().apply(TimelineActionKind::kResume, at_us);
      state = RecordingState::kActive;
      break;
    case Command::Kind::kStop: core_->timeline().apply(TimelineActionKind::kStop, at_us); break;
    default: return;
  }
  emit(SessionEvent{SessionEventKind::kStateChanged, state, operation_name(c.kind), c.context});
}

// Joins, leaves and shares take effect when the output reaches them, after the media
// placed before them and before the media after: a rejoin starts fresh inputs and
// decoders for what the new sender sends, while what the old one sent before leaving is
// still placed where it belongs.
void OutputDriver::apply_participant(Participant& p, const Command& c) {
  const std::string& id = p.queue->participant_id();
  const auto end = [&](std::optional<SessionCore::InputId>& input) {
    if (!input) return;
    core_->end_video(*input);
    core_->end_input(*input, c.at);
    input.reset();
  };
  switch (c.kind) {
    case Command::Kind::kJoin:
      if (!p.core_index) p.core_index = core_->add_participant(id, c.display_name);
      end(p.camera);  // a join always follows a leave; this is only a safeguard
      p.camera = core_->add_input(*p.core_index, false, c.at, false, false);
      p.camera_decoder.reset();
      break;
    case Command::Kind::kLeave:
      end(p.camera);
      end(p.screen);
      p.camera_decoder.reset();
      p.screen_decoder.reset();
      break;
    case Command::Kind::kScreenOn:
      if (p.core_index && !p.screen) {
        p.screen = core_->add_input(*p.core_index, true, c.at, false, false);
        p.screen_decoder.reset();
      }
      break;
    case Command::Kind::kScreenOff:
      end(p.screen);
      p.screen_decoder.reset();
      break;
    default: break;
  }
}

void OutputDriver::route_video_packet(Participant& p, MediaItem& item, SessionCore::InputId input) {
  ParticipantCounters& counters = p.queue->counters();
  VideoPacketDecoder& decoder = item.track == VideoTrack::kScreen ? p.screen_decoder : p.camera_decoder;
  const VideoPacketDecoder::Result r =
      decoder.decode(item.codec, item.bytes, item.payload_bytes, item.at, [&](const AVFrame& picture, MediaTime at) {
        if (!core_->push_video(input, picture, at)) counters.video_dropped_late.fetch_add(1, std::memory_order_relaxed);
      });
  if (r.problem) {
    (r.decode_error ? counters.video_decode_errors : counters.dropped_unusable).fetch_add(1, std::memory_order_relaxed);
    problems_.note(p.queue->participant_id(), *r.problem, item.at);
  }
  if (r.keyframe_wanted) {
    counters.keyframes_wanted.fetch_add(1, std::memory_order_relaxed);
    SessionEvent e{SessionEventKind::kKeyframeWanted};
    e.participant_id = p.queue->participant_id();
    e.track = item.track;
    emit(std::move(e));
  }
}

// Hands one item to the core. What the stages refuse costs only this item.
void OutputDriver::route(Participant& p, MediaItem& item) {
  ParticipantCounters& counters = p.queue->counters();
  const bool screen = item.track == VideoTrack::kScreen &&
                      (item.kind == MediaKind::kVideoFrame || item.kind == MediaKind::kVideoPacket);
  const std::optional<SessionCore::InputId> input = screen ? p.screen : p.camera;
  if (!input) {
    counters.dropped_unusable.fetch_add(1, std::memory_order_relaxed);
    problems_.note(p.queue->participant_id(),
                   std::string(item_name(item)) + " dropped: " +
                       (screen ? "no screen share is on" : "placed outside the participant's time in the call"),
                   item.at);
    return;
  }
  try {
    switch (item.kind) {
      case MediaKind::kOpus:
        core_->push_opus(*input, std::span<const uint8_t>(item.bytes.data(), item.payload_bytes), item.at,
                         item.voice_active);
        break;
      case MediaKind::kPcm: {
        AVFrame* f = pcm_frame_.get();
        av_channel_layout_uninit(&f->ch_layout);
        av_channel_layout_default(&f->ch_layout, item.channels);
        f->format = AV_SAMPLE_FMT_S16;
        f->sample_rate = item.sample_rate_hz;
        f->nb_samples = item.samples;
        f->data[0] = item.bytes.data();
        f->extended_data = f->data;
        f->linesize[0] = static_cast<int>(item.bytes.size());
        try {
          core_->push_audio(*input, *f, item.at);
        } catch (...) {
          f->data[0] = nullptr;
          throw;
        }
        f->data[0] = nullptr;
        break;
      }
      case MediaKind::kAudioFrame:
        core_->push_audio(*input, *item.frame, item.at);
        break;
      case MediaKind::kVideoFrame:
        if (!core_->push_video(*input, *item.frame, item.at))
          counters.video_dropped_late.fetch_add(1, std::memory_order_relaxed);
        break;
      case MediaKind::kVideoPacket:
        route_video_packet(p, item, *input);
        break;
    }
  } catch (const Error& e) {
    counters.dropped_unusable.fetch_add(1, std::memory_order_relaxed);
    problems_.note(p.queue->participant_id(), std::string(item_name(item)) + " dropped: " + e.what(), item.at);
  }
}

void OutputDriver::release(Participant& p, MediaTime limit) {
  p.queue->collect();
  const auto route_item = [&](MediaItem& item) { route(p, item); };
  while (!p.commands.empty() && p.commands.front().at <= limit) {
    const Command c = std::move(p.commands.front());
    p.commands.pop_front();
    p.queue->release(c.at, /*inclusive=*/false, route_item);
    apply_participant(p, c);
  }
  p.queue->release(limit, /*inclusive=*/true, route_item);
}

void OutputDriver::write_periods(MediaTime now, MediaTime limit) {
  const int64_t limit_us = limit.us();
  for (;;) {
    SessionCore::InputId unused = 0;
    const int64_t picture_due_us = core_->next_call_us() + SessionCore::kPeriodUs / 2;
    const SessionCore::StepResult r = core_->step(limit_us, /*wait_for_inputs=*/false, &unused);
    if (r == SessionCore::StepResult::kWrotePeriod) {
      // Lateness: how long after the period's media became final (its nearest pictures
      // and the last mixer frame it needed) it was written.
      const int64_t due_call_us = std::max(picture_due_us, core_->mixed_until_us());
      const int64_t lag = (now - config_.jitter_window).us() - due_call_us;
      periods_written_.fetch_add(1, std::memory_order_relaxed);
      if (lag > SessionCore::kPeriodUs) periods_late_.fetch_add(1, std::memory_order_relaxed);
      if (lag > max_lag_us_.load(std::memory_order_relaxed)) max_lag_us_.store(lag, std::memory_order_relaxed);
      video_dropped_late_.store(core_->video_frames_dropped_late(), std::memory_order_relaxed);
      continue;
    }
    if (r == SessionCore::StepResult::kFinished) finish();
    return;  // kWaitClock, or finished
  }
}

void OutputDriver::finish() {
  SessionEvent e{SessionEventKind::kRecordingFinished};
  e.data = core_->finish("RecordingStopped");
  // The encoders close here, on the output side, where the session's log sink is (their
  // last statistics are log lines).
  core_.reset();
  ended_.store(true, std::memory_order_release);
  emit(std::move(e));
  if (config_.on_finished) config_.on_finished(std::nullopt);
}

void OutputDriver::fail(const std::string& message) {
  // The writer goes first: recovery needs nothing writing into the directory.
  core_.reset();
  std::string text = message;
  std::optional<nlohmann::json> notification;
  try {
    // Touches only this recording's own files (recovery.h), and none of them when no
    // chunk holds media yet.
    muxer::RecoveryReport report =
        muxer::recover_recording(out_dir_, muxer::RecoveryEnd{kOutputFailedEndReason, message});
    if (report.outcome == muxer::RecoveryReport::Outcome::kNothingRecoverable) {
      text += "; no chunk held media yet: nothing to complete, the recording's files are left as they were";
    }
    notification = std::move(report.notification);
  } catch (const std::exception& e) {
    text += "; completing the chunks written failed too: " + std::string(e.what());
  }
  ended_.store(true, std::memory_order_release);
  SessionEvent error{SessionEventKind::kError};
  error.error = SessionErrc::kOutputFailed;
  error.message = text;
  emit(std::move(error));
  if (notification) {
    SessionEvent finished{SessionEventKind::kRecordingFinished};
    finished.data = std::move(*notification);
    emit(std::move(finished));
  }
  if (config_.on_finished) config_.on_finished(text);
}

std::optional<MediaTime> OutputDriver::run(MediaTime now) {
  if (ended()) return std::nullopt;
  const double cpu_before = thread_cpu_seconds();
  std::optional<MediaTime> next;
  try {
    take_commands();
    const MediaTime limit = now - config_.jitter_window;
    for (Participant& p : participants_) release(p, limit);
    write_periods(now, limit);
    if (!ended()) {
      // Clock times (limit + jitter) at which more can be done.
      if (const std::optional<MediaTime> needed = core_->clock_limit_needed()) next = *needed + config_.jitter_window;
      for (const Participant& p : participants_) {
        if (p.commands.empty()) continue;
        const MediaTime due = p.commands.front().at + config_.jitter_window;
        if (!next || due < *next) next = due;
      }
      // Never in the past: what is due now was just done.
      if (next && *next <= now) next = now + MediaTime::from_us(1);
    }
  } catch (const std::exception& e) {
    // Everything a participant can cause is caught in route(): this is the output.
    fail(e.what());
    next.reset();
  }
  cpu_s_.store(cpu_s_.load(std::memory_order_relaxed) + thread_cpu_seconds() - cpu_before, std::memory_order_relaxed);
  return ended() ? std::nullopt : next;
}

}  // namespace callrec::engine
