// callrec::Session: the live driver of SessionCore.
//
// Callers (any thread) validate against the control state under control_mu_ and put
// media into per-participant bounded pools under that participant's mutex. The output
// thread owns the SessionCore, the decoders and the reorder buffers; it applies control
// commands at the call time they were issued, releases media to the core once the clock
// says it is due (wall clock minus the jitter window) and makes output periods.
#include "callrec/session.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/core/denormals.h"
#include "callrec/core/error.h"
#include "callrec/core/random_id.h"
#include "session_core.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
}

namespace callrec {

const char* to_string(SessionErrc code) {
  switch (code) {
    case SessionErrc::kOk: return "ok";
    case SessionErrc::kNotStarted: return "not_started";
    case SessionErrc::kAlreadyStarted: return "already_started";
    case SessionErrc::kAlreadyPaused: return "already_paused";
    case SessionErrc::kNotPaused: return "not_paused";
    case SessionErrc::kStopped: return "stopped";
    case SessionErrc::kUnknownParticipant: return "unknown_participant";
    case SessionErrc::kParticipantPresent: return "participant_present";
    case SessionErrc::kInvalidArgument: return "invalid_argument";
    case SessionErrc::kQueueFull: return "queue_full";
    case SessionErrc::kOutputFailed: return "output_failed";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;
using engine::SessionCore;


// Maps one RTP stream's timestamps onto call time: unwraps 32-bit wrap-around and
// anchors the stream at its first packet's arrival. The anchor is never moved: moving it
// would shift the stream under the mixer, which then bends the pitch to absorb the step.
// A first packet that arrived late places the stream up to that much late (within the
// jitter window); a backend with capture times (RTCP sender reports) should push with
// MediaTime timestamps instead.
class RtpClock {
 public:
  explicit RtpClock(int clock_rate_hz) : rate_hz_(clock_rate_hz) {}

  int64_t call_us(uint32_t rtp_timestamp, int64_t arrival_us) {
    if (!last_) {
      extended_ = rtp_timestamp;
    } else {
      extended_ += static_cast<int32_t>(rtp_timestamp - *last_);
    }
    last_ = rtp_timestamp;
    const int64_t media_us = MediaTime(extended_, Rational{1, rate_hz_}).us();
    if (!offset_us_) offset_us_ = arrival_us - media_us;
    return media_us + *offset_us_;
  }

 private:
  int rate_hz_;
  std::optional<uint32_t> last_;
  int64_t extended_ = 0;
  std::optional<int64_t> offset_us_;
};

enum class ItemKind { kOpus, kPcm, kAudioFrame, kVideoFrame, kVideoPacket };

// One queued piece of media. Slots are allocated once per participant and reused, so a
// push allocates nothing once the buffers have grown to the stream's packet sizes.
struct MediaItem {
  ItemKind kind = ItemKind::kOpus;
  int64_t call_us = 0;
  VideoTrack track = VideoTrack::kCamera;
  VideoCodec codec = VideoCodec::kVp8;
  bool voice_active = false;
  int sample_rate_hz = 0;
  int channels = 0;
  int samples = 0;
  std::vector<uint8_t> bytes;
  av::FramePtr frame;  // kAudioFrame / kVideoFrame, made on first use
};

struct VideoDecoder {
  VideoCodec codec;
  av::CodecContextPtr context;
};

// One participant. Guarded parts are touched by pushing threads and the output thread;
// the rest belongs to the output thread.
struct ParticipantSlot {
  ParticipantSlot(std::string id, int capacity) : participant_id(std::move(id)), pool(capacity) {
    free_slots.reserve(capacity);
    pending.reserve(capacity);
    reorder.reserve(capacity);
    for (int i = capacity - 1; i >= 0; --i) free_slots.push_back(i);
  }
  const std::string participant_id;

  std::mutex mu;
  std::vector<MediaItem> pool;        // guarded by mu while in free_slots/pending
  std::vector<int> free_slots;        // guarded by mu
  std::vector<int> pending;           // guarded by mu: pushed, not yet taken
  RtpClock audio_rtp{48000};          // guarded by mu
  RtpClock camera_rtp{90000};         // guarded by mu
  RtpClock screen_rtp{90000};         // guarded by mu

  std::atomic<int64_t> dropped_queue_full{0};
  std::atomic<int64_t> video_decode_errors{0};
  std::atomic<int64_t> video_dropped_late{0};

  // Output thread only.
  std::vector<int> reorder;  // taken from pending, waiting for their call time
  std::optional<SessionCore::ParticipantIndex> core_index;
  std::optional<SessionCore::InputId> camera_input;
  std::optional<SessionCore::InputId> screen_input;
  std::optional<VideoDecoder> camera_decoder;
  std::optional<VideoDecoder> screen_decoder;
};

enum class Phase { kIdle, kRecording, kPaused, kStopped };

enum class CommandKind { kStart, kPause, kResume, kStop, kJoin, kLeave, kScreenOn, kScreenOff };

struct Command {
  CommandKind kind;
  int64_t at_us;
  std::string context;
  std::shared_ptr<ParticipantSlot> slot;
  std::string display_name;
};

const char* operation_name(CommandKind k) {
  switch (k) {
    case CommandKind::kStart: return "start";
    case CommandKind::kPause: return "pause";
    case CommandKind::kResume: return "resume";
    case CommandKind::kStop: return "stop";
    default: return "";
  }
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

struct Session::Impl {
  explicit Impl(SessionConfig c) : config(std::move(c)) {}

  SessionConfig config;
  int64_t jitter_us = 0;
  Clock::time_point epoch;  // call time 0; written once by start() before the thread runs

  mutable std::mutex control_mu;
  std::condition_variable wake;       // the output thread waits on it
  std::condition_variable finished_cv;
  Phase phase = Phase::kIdle;                                            // guarded by control_mu
  std::vector<Command> commands;                                         // guarded by control_mu
  std::map<std::string, std::shared_ptr<ParticipantSlot>, std::less<>> participants;  // guarded by control_mu
  std::map<std::string, bool, std::less<>> present;                      // guarded by control_mu
  bool finished = false;                                                 // guarded by control_mu
  std::optional<Status> failure;                                         // guarded by control_mu
  std::string recording_id;

  // Written by the output thread, read by stats().
  std::atomic<int64_t> periods_written{0};
  std::atomic<int64_t> periods_late{0};
  std::atomic<int64_t> max_lag_us{0};
  std::atomic<int64_t> video_dropped_late{0};
  std::atomic<double> output_cpu_s{0};

  std::thread output;

  int64_t call_now_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - epoch).count();
  }

  void emit(SessionEvent event) {
    if (config.on_event) config.on_event(event);
  }

  // Validates a media push and returns the participant's slot.
  Status media_slot(std::string_view participant_id, std::shared_ptr<ParticipantSlot>& slot) {
    std::lock_guard lock(control_mu);
    if (failure) return Status(SessionErrc::kOutputFailed, "the recording failed: " + failure->message());
    if (phase == Phase::kIdle) return Status(SessionErrc::kNotStarted, "media pushed before start()");
    if (phase == Phase::kStopped) return Status(SessionErrc::kStopped, "media pushed after stop()");
    const auto it = present.find(participant_id);
    if (it == present.end() || !it->second)
      return Status(SessionErrc::kUnknownParticipant,
                    "media for participant \"" + std::string(participant_id) + "\", who is not in the call");
    slot = participants.find(participant_id)->second;
    return {};
  }

  // Takes a free item of `slot` (slot->mu held), or counts a drop.
  MediaItem* take_item(ParticipantSlot& slot, int& index) {
    if (slot.free_slots.empty()) {
      slot.dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    index = slot.free_slots.back();
    slot.free_slots.pop_back();
    return &slot.pool[index];
  }

  static Status queue_full(const ParticipantSlot& slot) {
    return Status(SessionErrc::kQueueFull,
                  "participant \"" + slot.participant_id + "\": queue full, media dropped");
  }

  void run_output(SessionCore* core);
  void apply(SessionCore& core, Command& c);
  void release_media(SessionCore& core, ParticipantSlot& slot, int64_t limit_us);
  void route(SessionCore& core, ParticipantSlot& slot, MediaItem& item);
  void decode_packet(SessionCore& core, ParticipantSlot& slot, MediaItem& item, SessionCore::InputId input);

  // Output-thread scratch, allocated once.
  av::FramePtr pcm_frame = av::make_frame();
  av::FramePtr decoded = av::make_frame();
  av::PacketPtr packet = av::make_packet();
  std::vector<std::shared_ptr<ParticipantSlot>> slots_snapshot;
};

Session::Session(SessionConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  impl_->jitter_us =
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(impl_->config.jitter_window).count());
}

Session::~Session() {
  (void)stop("session destroyed");
  if (impl_->output.joinable()) impl_->output.join();
}

Session::Started Session::start(std::string_view operation_context) {
  Impl& d = *impl_;
  std::unique_lock lock(d.control_mu);
  if (d.phase != Phase::kIdle) return {Status(SessionErrc::kAlreadyStarted, "start(): the session was already started"), {}};
  if (d.config.out_dir.empty()) return {Status(SessionErrc::kInvalidArgument, "start(): out_dir is empty"), {}};
  d.recording_id = d.config.recording_id.value_or(random_uuid_v4());
  const WallClock wall_start = wall_clock_now();
  d.epoch = Clock::now();
  engine::SessionCoreConfig core_config{
      .recording = {.out_dir = d.config.out_dir,
                    .call_id = d.config.call_id,
                    .resource_id = d.config.resource_id,
                    .recording_id = d.recording_id,
                    .recording_start_time = wall_start,
                    .max_chunk_bytes = d.config.max_chunk_bytes,
                    .encoder = {.video_rate_control = d.config.video_quality
                                                          ? muxer::VideoRateControl::kCappedQuality
                                                          : muxer::VideoRateControl::kAverageBitrate,
                                .video_quality = d.config.video_quality.value_or(muxer::EncoderSettings{}.video_quality),
                                .video_bitrate_bps = d.config.video_bitrate_bps,
                                .audio_bitrate_bps = d.config.audio_bitrate_bps,
                                .video_lookahead_frames = d.config.video_lookahead_frames,
                                .video_bframes = d.config.video_bframes}},
      .call_epoch = wall_start,
      .mixer = {.max_talkers = d.config.max_talkers, .drift_correction = true},
      .drop_late_video = true,
      .timeline_may_change = true,
      .on_chunk_written =
          [&d](const nlohmann::json& metadata) {
            SessionEvent e{SessionEventKind::kChunkFinished};
            e.data = metadata;
            d.emit(std::move(e));
          },
      .participant_extra_stats = [&d](const std::string& id) {
        nlohmann::json extra = nlohmann::json::object();
        std::lock_guard lock(d.control_mu);
        if (const auto it = d.participants.find(id); it != d.participants.end()) {
          extra["mediaDroppedQueueFull"] = it->second->dropped_queue_full.load();
          extra["videoFramesDroppedLate"] = it->second->video_dropped_late.load();
          extra["videoDecodeErrors"] = it->second->video_decode_errors.load();
        }
        return extra;
      }};
  std::unique_ptr<SessionCore> core;
  try {
    core = std::make_unique<SessionCore>(std::move(core_config), engine::RecordTimeline(std::vector<engine::TimelineAction>{}));
  } catch (const std::exception& e) {
    return {Status(SessionErrc::kOutputFailed, std::string("start(): ") + e.what()), {}};
  }
  d.phase = Phase::kRecording;
  d.commands.push_back(Command{CommandKind::kStart, 0, std::string(operation_context), nullptr, {}});
  d.output = std::thread([&d, c = core.release()] {
    const ScopedFlushDenormals flush_denormals;  // decoders, mixer and AAC encoder run here
    d.run_output(c);
  });
  return {Status(), d.recording_id};
}

Status Session::pause(std::string_view operation_context) {
  Impl& d = *impl_;
  std::lock_guard lock(d.control_mu);
  switch (d.phase) {
    case Phase::kIdle: return Status(SessionErrc::kNotStarted, "pause(): the session has not been started");
    case Phase::kPaused: return Status(SessionErrc::kAlreadyPaused, "pause(): the recording is already paused");
    case Phase::kStopped: return Status(SessionErrc::kStopped, "pause(): the recording has been stopped");
    case Phase::kRecording: break;
  }
  d.phase = Phase::kPaused;
  d.commands.push_back(Command{CommandKind::kPause, d.call_now_us(), std::string(operation_context), nullptr, {}});
  d.wake.notify_one();
  return {};
}

Status Session::resume(std::string_view operation_context) {
  Impl& d = *impl_;
  std::lock_guard lock(d.control_mu);
  switch (d.phase) {
    case Phase::kIdle: return Status(SessionErrc::kNotStarted, "resume(): the session has not been started");
    case Phase::kRecording: return Status(SessionErrc::kNotPaused, "resume(): the recording is not paused");
    case Phase::kStopped: return Status(SessionErrc::kStopped, "resume(): the recording has been stopped");
    case Phase::kPaused: break;
  }
  d.phase = Phase::kRecording;
  d.commands.push_back(Command{CommandKind::kResume, d.call_now_us(), std::string(operation_context), nullptr, {}});
  d.wake.notify_one();
  return {};
}

Status Session::stop(std::string_view operation_context) {
  Impl& d = *impl_;
  std::lock_guard lock(d.control_mu);
  switch (d.phase) {
    case Phase::kIdle: return Status(SessionErrc::kNotStarted, "stop(): the session has not been started");
    case Phase::kStopped: return Status(SessionErrc::kStopped, "stop(): the recording has already been stopped");
    case Phase::kRecording:
    case Phase::kPaused: break;
  }
  d.phase = Phase::kStopped;
  d.commands.push_back(Command{CommandKind::kStop, d.call_now_us(), std::string(operation_context), nullptr, {}});
  d.wake.notify_one();
  return {};
}

RecordingState Session::state() const {
  std::lock_guard lock(impl_->control_mu);
  return impl_->phase == Phase::kRecording && !impl_->failure ? RecordingState::kActive : RecordingState::kInactive;
}

Status Session::wait() {
  Impl& d = *impl_;
  std::unique_lock lock(d.control_mu);
  if (d.phase == Phase::kIdle) return Status(SessionErrc::kNotStarted, "wait(): the session has not been started");
  d.finished_cv.wait(lock, [&] { return d.finished; });
  return d.failure.value_or(Status());
}

MediaTime Session::now() const {
  std::lock_guard lock(impl_->control_mu);
  return MediaTime::from_us(impl_->phase == Phase::kIdle ? 0 : impl_->call_now_us());
}

Status Session::join(std::string_view participant_id, std::string_view display_name) {
  Impl& d = *impl_;
  if (participant_id.empty()) return Status(SessionErrc::kInvalidArgument, "join(): empty participant id");
  std::lock_guard lock(d.control_mu);
  if (d.phase == Phase::kStopped) return Status(SessionErrc::kStopped, "join(): the recording has been stopped");
  auto& present = d.present[std::string(participant_id)];
  if (present)
    return Status(SessionErrc::kParticipantPresent,
                  "join(): participant \"" + std::string(participant_id) + "\" is already in the call");
  present = true;
  auto& slot = d.participants[std::string(participant_id)];
  if (!slot) slot = std::make_shared<ParticipantSlot>(std::string(participant_id), std::max(8, d.config.queue_capacity));
  d.commands.push_back(Command{CommandKind::kJoin, d.phase == Phase::kIdle ? 0 : d.call_now_us(), {}, slot,
                               std::string(display_name)});
  d.wake.notify_one();
  return {};
}

Status Session::leave(std::string_view participant_id) {
  Impl& d = *impl_;
  std::lock_guard lock(d.control_mu);
  if (d.phase == Phase::kStopped) return Status(SessionErrc::kStopped, "leave(): the recording has been stopped");
  const auto it = d.present.find(participant_id);
  if (it == d.present.end() || !it->second)
    return Status(SessionErrc::kUnknownParticipant,
                  "leave(): participant \"" + std::string(participant_id) + "\" is not in the call");
  it->second = false;
  d.commands.push_back(Command{CommandKind::kLeave, d.phase == Phase::kIdle ? 0 : d.call_now_us(), {},
                               d.participants.find(participant_id)->second, {}});
  d.wake.notify_one();
  return {};
}

Status Session::set_screen_share(std::string_view participant_id, bool on) {
  Impl& d = *impl_;
  std::lock_guard lock(d.control_mu);
  if (d.phase == Phase::kStopped) return Status(SessionErrc::kStopped, "set_screen_share(): the recording has been stopped");
  const auto it = d.present.find(participant_id);
  if (it == d.present.end() || !it->second)
    return Status(SessionErrc::kUnknownParticipant,
                  "set_screen_share(): participant \"" + std::string(participant_id) + "\" is not in the call");
  d.commands.push_back(Command{on ? CommandKind::kScreenOn : CommandKind::kScreenOff,
                               d.phase == Phase::kIdle ? 0 : d.call_now_us(), {},
                               d.participants.find(participant_id)->second, {}});
  d.wake.notify_one();
  return {};
}

Status Session::push_opus(std::string_view participant_id, std::span<const uint8_t> packet, uint32_t rtp_timestamp,
                          std::optional<int> audio_level_dbov) {
  Impl& d = *impl_;
  std::shared_ptr<ParticipantSlot> slot;
  if (Status s = d.media_slot(participant_id, slot); !s) return s;
  const int64_t arrival_us = d.call_now_us();
  std::lock_guard lock(slot->mu);
  int index = 0;
  MediaItem* item = d.take_item(*slot, index);
  if (!item) return Impl::queue_full(*slot);
  item->kind = ItemKind::kOpus;
  item->call_us = slot->audio_rtp.call_us(rtp_timestamp, arrival_us);
  // Without an RFC 6464 level, a packet larger than comfort noise is taken as voice.
  item->voice_active = audio_level_dbov ? *audio_level_dbov < 40 : packet.size() > 24;
  item->bytes.assign(packet.begin(), packet.end());
  slot->pending.push_back(index);
  return {};
}

Status Session::push_pcm(std::string_view participant_id, std::span<const int16_t> interleaved, int sample_rate_hz,
                         int channels, MediaTime timestamp) {
  Impl& d = *impl_;
  if (sample_rate_hz < 8000 || sample_rate_hz > 48000 || channels < 1 || channels > 8 ||
      interleaved.size() % static_cast<size_t>(channels) != 0)
    return Status(SessionErrc::kInvalidArgument, "push_pcm(): sample rate must be 8-48 kHz, 1-8 channels, whole frames");
  std::shared_ptr<ParticipantSlot> slot;
  if (Status s = d.media_slot(participant_id, slot); !s) return s;
  std::lock_guard lock(slot->mu);
  int index = 0;
  MediaItem* item = d.take_item(*slot, index);
  if (!item) return Impl::queue_full(*slot);
  item->kind = ItemKind::kPcm;
  item->call_us = timestamp.us();
  item->sample_rate_hz = sample_rate_hz;
  item->channels = channels;
  item->samples = static_cast<int>(interleaved.size()) / channels;
  const auto* bytes = reinterpret_cast<const uint8_t*>(interleaved.data());
  item->bytes.assign(bytes, bytes + interleaved.size_bytes());
  slot->pending.push_back(index);
  return {};
}

namespace {
// Refs `frame` into `slot` (or copies it when it is not refcounted).
bool keep_frame(av::FramePtr& slot, const AVFrame& frame) {
  if (!slot) slot = av::make_frame();
  av_frame_unref(slot.get());
  if (frame.buf[0]) return av_frame_ref(slot.get(), &frame) >= 0;
  slot->format = frame.format;
  slot->width = frame.width;
  slot->height = frame.height;
  slot->nb_samples = frame.nb_samples;
  slot->sample_rate = frame.sample_rate;
  if (av_channel_layout_copy(&slot->ch_layout, &frame.ch_layout) < 0) return false;
  if (av_frame_get_buffer(slot.get(), 0) < 0) return false;
  if (av_frame_copy(slot.get(), &frame) < 0) return false;
  return av_frame_copy_props(slot.get(), &frame) >= 0;
}
}  // namespace

Status Session::push_audio_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp) {
  Impl& d = *impl_;
  std::shared_ptr<ParticipantSlot> slot;
  if (Status s = d.media_slot(participant_id, slot); !s) return s;
  std::lock_guard lock(slot->mu);
  int index = 0;
  MediaItem* item = d.take_item(*slot, index);
  if (!item) return Impl::queue_full(*slot);
  if (!keep_frame(item->frame, frame)) {
    slot->free_slots.push_back(index);
    return Status(SessionErrc::kInvalidArgument, "push_audio_frame(): the frame cannot be referenced or copied");
  }
  item->kind = ItemKind::kAudioFrame;
  item->call_us = timestamp.us();
  slot->pending.push_back(index);
  return {};
}

Status Session::push_video_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp,
                                 VideoTrack track) {
  Impl& d = *impl_;
  if (frame.width <= 0 || frame.height <= 0)
    return Status(SessionErrc::kInvalidArgument, "push_video_frame(): the frame has no size");
  std::shared_ptr<ParticipantSlot> slot;
  if (Status s = d.media_slot(participant_id, slot); !s) return s;
  std::lock_guard lock(slot->mu);
  int index = 0;
  MediaItem* item = d.take_item(*slot, index);
  if (!item) return Impl::queue_full(*slot);
  if (!keep_frame(item->frame, frame)) {
    slot->free_slots.push_back(index);
    return Status(SessionErrc::kInvalidArgument, "push_video_frame(): the frame cannot be referenced or copied");
  }
  item->kind = ItemKind::kVideoFrame;
  item->call_us = timestamp.us();
  item->track = track;
  slot->pending.push_back(index);
  return {};
}

Status Session::push_video_packet(std::string_view participant_id, VideoCodec codec, std::span<const uint8_t> data,
                                  uint32_t rtp_timestamp, VideoTrack track) {
  Impl& d = *impl_;
  if (data.empty()) return Status(SessionErrc::kInvalidArgument, "push_video_packet(): empty packet");
  std::shared_ptr<ParticipantSlot> slot;
  if (Status s = d.media_slot(participant_id, slot); !s) return s;
  const int64_t arrival_us = d.call_now_us();
  std::lock_guard lock(slot->mu);
  int index = 0;
  MediaItem* item = d.take_item(*slot, index);
  if (!item) return Impl::queue_full(*slot);
  item->kind = ItemKind::kVideoPacket;
  item->codec = codec;
  item->track = track;
  item->call_us = (track == VideoTrack::kScreen ? slot->screen_rtp : slot->camera_rtp).call_us(rtp_timestamp, arrival_us);
  // Room for the decoder's padding, so the packet can be decoded in place.
  item->bytes.resize(data.size() + AV_INPUT_BUFFER_PADDING_SIZE);
  std::copy(data.begin(), data.end(), item->bytes.begin());
  std::fill(item->bytes.begin() + static_cast<std::ptrdiff_t>(data.size()), item->bytes.end(), 0);
  item->samples = static_cast<int>(data.size());
  slot->pending.push_back(index);
  return {};
}

SessionStats Session::stats() const {
  const Impl& d = *impl_;
  SessionStats s;
  s.periods_written = d.periods_written.load();
  s.periods_late = d.periods_late.load();
  s.max_output_lag_ms = d.max_lag_us.load() / 1000;
  s.video_frames_dropped_late = d.video_dropped_late.load();
  s.output_thread_cpu_s = d.output_cpu_s.load();
  std::lock_guard lock(d.control_mu);
  for (const auto& [id, slot] : d.participants) {
    s.media_dropped_queue_full += slot->dropped_queue_full.load();
    s.video_decode_errors += slot->video_decode_errors.load();
  }
  return s;
}

// ---- output thread ----

void Session::Impl::apply(SessionCore& core, Command& c) {
  using engine::TimelineActionKind;
  // A command is placed at the call time it was issued, or where output already is when
  // the output thread ran behind.
  const int64_t at = std::max(c.at_us, core.mixed_until_us());
  auto state_event = [&](RecordingState state) {
    SessionEvent e{SessionEventKind::kStateChanged, state, operation_name(c.kind), c.context};
    emit(std::move(e));
  };
  switch (c.kind) {
    case CommandKind::kStart:
      state_event(RecordingState::kActive);
      break;
    case CommandKind::kPause:
      core.timeline().apply(TimelineActionKind::kPause, at);
      state_event(RecordingState::kInactive);
      break;
    case CommandKind::kResume:
      core.timeline().apply(TimelineActionKind::kResume, at);
      state_event(RecordingState::kActive);
      break;
    case CommandKind::kStop:
      core.timeline().apply(TimelineActionKind::kStop, at);
      state_event(RecordingState::kInactive);
      break;
    case CommandKind::kJoin: {
      ParticipantSlot& s = *c.slot;
      if (!s.core_index) s.core_index = core.add_participant(s.participant_id, c.display_name);
      s.camera_input = core.add_input(*s.core_index, false, c.at_us, false, false);
      s.camera_decoder.reset();
      break;
    }
    case CommandKind::kLeave: {
      ParticipantSlot& s = *c.slot;
      for (auto* input : {&s.camera_input, &s.screen_input}) {
        if (!*input) continue;
        core.end_video(**input);
        core.end_input(**input, c.at_us);
        input->reset();
      }
      break;
    }
    case CommandKind::kScreenOn: {
      ParticipantSlot& s = *c.slot;
      if (s.core_index && !s.screen_input) {
        s.screen_input = core.add_input(*s.core_index, true, c.at_us, false, false);
        s.screen_decoder.reset();
      }
      break;
    }
    case CommandKind::kScreenOff: {
      ParticipantSlot& s = *c.slot;
      if (s.screen_input) {
        core.end_video(*s.screen_input);
        core.end_input(*s.screen_input, c.at_us);
        s.screen_input.reset();
      }
      break;
    }
  }
}

void Session::Impl::decode_packet(SessionCore& core, ParticipantSlot& slot, MediaItem& item,
                                  SessionCore::InputId input) {
  std::optional<VideoDecoder>& decoder = item.track == VideoTrack::kScreen ? slot.screen_decoder : slot.camera_decoder;
  if (!decoder || decoder->codec != item.codec) {
    const AVCodec* codec = avcodec_find_decoder(item.codec == VideoCodec::kH264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_VP8);
    av::CodecContextPtr context(codec ? avcodec_alloc_context3(codec) : nullptr);
    if (!context) throw Error("participant \"" + slot.participant_id + "\": no video decoder");
    context->thread_count = 1;
    context->pkt_timebase = AVRational{1, 1'000'000};
    check_av(avcodec_open2(context.get(), codec, nullptr),
             "participant \"" + slot.participant_id + "\": opening the video decoder");
    decoder = VideoDecoder{item.codec, std::move(context)};
  }
  AVPacket* p = packet.get();
  av_packet_unref(p);
  p->data = item.bytes.data();
  p->size = item.samples;
  p->pts = item.call_us;
  p->dts = AV_NOPTS_VALUE;
  if (avcodec_send_packet(decoder->context.get(), p) < 0) {
    slot.video_decode_errors.fetch_add(1, std::memory_order_relaxed);
  }
  av_packet_unref(p);
  for (;;) {
    const int r = avcodec_receive_frame(decoder->context.get(), decoded.get());
    if (r < 0) {
      if (r != AVERROR(EAGAIN) && r != AVERROR_EOF) slot.video_decode_errors.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    const int64_t pts = decoded->best_effort_timestamp != AV_NOPTS_VALUE ? decoded->best_effort_timestamp : item.call_us;
    if (!core.push_video(input, *decoded, MediaTime::from_us(pts)))
      slot.video_dropped_late.fetch_add(1, std::memory_order_relaxed);
    av_frame_unref(decoded.get());
  }
}

void Session::Impl::route(SessionCore& core, ParticipantSlot& slot, MediaItem& item) {
  const MediaTime at = MediaTime::from_us(item.call_us);
  switch (item.kind) {
    case ItemKind::kOpus:
      if (slot.camera_input) core.push_opus(*slot.camera_input, item.bytes, at, item.voice_active);
      break;
    case ItemKind::kPcm: {
      if (!slot.camera_input) break;
      AVFrame* f = pcm_frame.get();
      av_channel_layout_uninit(&f->ch_layout);
      av_channel_layout_default(&f->ch_layout, item.channels);
      f->format = AV_SAMPLE_FMT_S16;
      f->sample_rate = item.sample_rate_hz;
      f->nb_samples = item.samples;
      f->data[0] = item.bytes.data();
      f->extended_data = f->data;
      f->linesize[0] = static_cast<int>(item.bytes.size());
      core.push_audio(*slot.camera_input, *f, at);
      f->data[0] = nullptr;
      break;
    }
    case ItemKind::kAudioFrame:
      if (slot.camera_input) core.push_audio(*slot.camera_input, *item.frame, at);
      av_frame_unref(item.frame.get());
      break;
    case ItemKind::kVideoFrame: {
      const auto& input = item.track == VideoTrack::kScreen ? slot.screen_input : slot.camera_input;
      if (input && !core.push_video(*input, *item.frame, at))
        slot.video_dropped_late.fetch_add(1, std::memory_order_relaxed);
      av_frame_unref(item.frame.get());
      break;
    }
    case ItemKind::kVideoPacket: {
      const auto& input = item.track == VideoTrack::kScreen ? slot.screen_input : slot.camera_input;
      if (input) decode_packet(core, slot, item, *input);
      break;
    }
  }
}

// Hands the participant's media whose call time has come (older than `limit_us`) to the
// core in timestamp order; later media waits, so packets that arrive out of order within
// the jitter window are placed where they belong.
void Session::Impl::release_media(SessionCore& core, ParticipantSlot& slot, int64_t limit_us) {
  {
    std::lock_guard lock(slot.mu);
    slot.reorder.insert(slot.reorder.end(), slot.pending.begin(), slot.pending.end());
    slot.pending.clear();
  }
  if (slot.reorder.empty()) return;
  std::stable_sort(slot.reorder.begin(), slot.reorder.end(),
                   [&](int a, int b) { return slot.pool[a].call_us < slot.pool[b].call_us; });
  size_t released = 0;
  while (released < slot.reorder.size() && slot.pool[slot.reorder[released]].call_us <= limit_us) {
    route(core, slot, slot.pool[slot.reorder[released]]);
    ++released;
  }
  if (released == 0) return;
  std::lock_guard lock(slot.mu);
  for (size_t i = 0; i < released; ++i) slot.free_slots.push_back(slot.reorder[i]);
  slot.reorder.erase(slot.reorder.begin(), slot.reorder.begin() + static_cast<std::ptrdiff_t>(released));
}

void Session::Impl::run_output(SessionCore* raw_core) {
  std::unique_ptr<SessionCore> core(raw_core);
  std::vector<Command> todo;
  try {
    for (;;) {
      {
        std::unique_lock lock(control_mu);
        wake.wait_for(lock, std::chrono::milliseconds(20), [&] { return !commands.empty(); });
        todo.swap(commands);
        slots_snapshot.clear();
        for (const auto& [id, slot] : participants) slots_snapshot.push_back(slot);
      }
      for (Command& c : todo) {
        apply(*core, c);
      }
      todo.clear();
      const int64_t limit_us = call_now_us() - jitter_us;
      for (const auto& slot : slots_snapshot) release_media(*core, *slot, limit_us);

      for (;;) {
        SessionCore::InputId unused = 0;
        const int64_t picture_due_us = core->next_call_us() + SessionCore::kPeriodUs / 2;
        const SessionCore::StepResult r = core->step(limit_us, /*wait_for_inputs=*/false, &unused);
        if (r == SessionCore::StepResult::kWrotePeriod) {
          // Lateness: how long after the period's media became final (its nearest pictures
          // and the last mixer frame it needed) it was written.
          const int64_t due_call_us = std::max(picture_due_us, core->mixed_until_us());
          const int64_t lag = call_now_us() - jitter_us - due_call_us;
          periods_written.fetch_add(1, std::memory_order_relaxed);
          if (lag > SessionCore::kPeriodUs) periods_late.fetch_add(1, std::memory_order_relaxed);
          if (lag > max_lag_us.load(std::memory_order_relaxed)) max_lag_us.store(lag, std::memory_order_relaxed);
          video_dropped_late.store(core->video_frames_dropped_late(), std::memory_order_relaxed);
          continue;
        }
        if (r == SessionCore::StepResult::kFinished) {
          SessionEvent e{SessionEventKind::kRecordingFinished};
          e.data = core->finish("RecordingStopped");
          output_cpu_s.store(thread_cpu_seconds());
          emit(std::move(e));
          std::lock_guard lock(control_mu);
          finished = true;
          finished_cv.notify_all();
          return;
        }
        break;  // kWaitClock
      }
      output_cpu_s.store(thread_cpu_seconds());
    }
  } catch (const std::exception& ex) {
    Status failure_status(SessionErrc::kOutputFailed, ex.what());
    SessionEvent e{SessionEventKind::kError};
    e.error = SessionErrc::kOutputFailed;
    e.message = ex.what();
    emit(std::move(e));
    std::lock_guard lock(control_mu);
    failure = failure_status;
    phase = Phase::kStopped;
    finished = true;
    finished_cv.notify_all();
  }
}

}  // namespace callrec
