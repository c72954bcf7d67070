#include "live_session.h"

#include <algorithm>
#include <chrono>

#include "callrec/core/denormals.h"
#include "callrec/core/error.h"
#include "callrec/core/log.h"
#include "callrec/core/random_id.h"
#include "media_limits.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/samplefmt.h>
}

namespace callrec::engine {
namespace {

// Timestamps further than this from call time 0 (about 31 years) are not call times;
// below it, MediaTime arithmetic on them cannot overflow.
constexpr long double kMaxAbsTimestampUs = 1e15L;

std::optional<std::string> timestamp_problem(MediaTime t) {
  const Rational tb = t.time_base();
  if (tb.num <= 0 || tb.den <= 0) {
    return "the timestamp's time base " + std::to_string(tb.num) + "/" + std::to_string(tb.den) +
           " is not a positive fraction";
  }
  const long double us = static_cast<long double>(t.ticks()) * tb.num * 1e6L / tb.den;
  if (us > kMaxAbsTimestampUs || us < -kMaxAbsTimestampUs) {
    return "the timestamp " + std::to_string(t.ticks()) + " x " + std::to_string(tb.num) + "/" +
           std::to_string(tb.den) + " s is not a call time";
  }
  return std::nullopt;
}

std::optional<std::string> audio_frame_problem(const AVFrame& f) {
  if (f.sample_rate < MediaLimits::kMinSampleRateHz || f.sample_rate > MediaLimits::kMaxSampleRateHz) {
    return "sample rate " + std::to_string(f.sample_rate) + " Hz is out of range (" +
           std::to_string(MediaLimits::kMinSampleRateHz) + " to " + std::to_string(MediaLimits::kMaxSampleRateHz) +
           ")";
  }
  const auto format = static_cast<AVSampleFormat>(f.format);
  if (f.format < 0 || f.format >= AV_SAMPLE_FMT_NB || av_get_bytes_per_sample(format) <= 0) {
    return "sample format " + std::to_string(f.format) + " is not a sample format";
  }
  const int channels = f.ch_layout.nb_channels;
  if (channels < 1 || channels > MediaLimits::kMaxChannels) {
    return std::to_string(channels) + " channels is out of range (1 to " + std::to_string(MediaLimits::kMaxChannels) +
           ")";
  }
  if (!av_channel_layout_check(&f.ch_layout)) return "the channel layout is not valid";
  if (f.nb_samples <= 0) return "the frame has no samples";
  if (int64_t{f.nb_samples} * 1'000'000 / f.sample_rate > MediaLimits::kMaxPushedAudioUs) {
    return std::to_string(f.nb_samples) + " samples at " + std::to_string(f.sample_rate) + " Hz is longer than " +
           std::to_string(MediaLimits::kMaxPushedAudioUs / 1000) + " ms";
  }
  const bool planar = av_sample_fmt_is_planar(format);
  const int planes = planar ? channels : 1;
  if (f.extended_data == nullptr) return "the frame has no data";
  for (int i = 0; i < planes; ++i) {
    if (f.extended_data[i] == nullptr) return "the frame has no data for plane " + std::to_string(i);
  }
  const int64_t plane_bytes = int64_t{f.nb_samples} * av_get_bytes_per_sample(format) * (planar ? 1 : channels);
  if (f.linesize[0] < plane_bytes) {
    return "the frame's planes (" + std::to_string(f.linesize[0]) + " bytes) are shorter than its " +
           std::to_string(f.nb_samples) + " samples";
  }
  return std::nullopt;
}

std::optional<std::string> picture_problem(const AVFrame& f) {
  if (f.width > MediaLimits::kMaxPictureSide || f.height > MediaLimits::kMaxPictureSide ||
      int64_t{f.width} * f.height > MediaLimits::kMaxPicturePixels) {
    return "a picture of " + std::to_string(f.width) + "x" + std::to_string(f.height) + " exceeds the " +
           std::to_string(MediaLimits::kMaxPictureSide) + "x" + std::to_string(MediaLimits::kMaxPictureSide) + " / " +
           std::to_string(MediaLimits::kMaxPicturePixels) + " pixel limit";
  }
  return compositor::VideoCompositor::picture_problem(f);
}

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

bool have_decoder(VideoCodec codec) {
  static const bool h264 = avcodec_find_decoder(AV_CODEC_ID_H264) != nullptr;
  static const bool vp8 = avcodec_find_decoder(AV_CODEC_ID_VP8) != nullptr;
  return codec == VideoCodec::kH264 ? h264 : vp8;
}

}  // namespace

LiveSession::LiveSession(SessionConfig config, LiveSessionOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      clock_(config_.clock ? config_.clock : RealClock::instance()),
      virtual_clock_(clock_->as_virtual()),
      jitter_(MediaTime::from_us(
          std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(config_.jitter_window).count()))) {
  const MediaTime ahead = MediaTime::from_us(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(config_.max_media_ahead).count()));
  // Later than the jitter window the media is late anyway; a second more is left to the
  // stages, which drop late media to the sample and count it.
  const MediaTime behind = jitter_ + MediaTime::from_ms(1000);
  queue_limits_ = ParticipantQueue::Limits{
      .capacity = std::max(8, config_.queue_capacity),
      .max_ahead = ahead,
      .max_behind = behind,
      .rtp = RtpClockBounds{.max_ahead = ahead,
                            .max_behind = behind,
                            .confirm_after = MediaTime::from_ms(100),
                            .tolerance = std::max(jitter_, MediaTime::from_ms(100))}};
}

LiveSession::~LiveSession() {
  // With a VirtualClock the end of the recording is written here, on this thread.
  const ScopedLogSink log_scope(config_.log);
  (void)stop("session destroyed");
  bool started = false;
  {
    const std::lock_guard lock(control_mu_);
    started = driver_ != nullptr;
  }
  if (virtual_clock_ && started) {
    (void)wait();
    virtual_clock_->remove_timer(*this);
  }
  if (output_.joinable()) output_.join();
  driver_.reset();  // inside log_scope: whatever it still holds of libav logs to this session's sink
}

MediaTime LiveSession::call_now() const { return clock_->now() - epoch_; }

void LiveSession::post(Command command) {
  if (!driver_) {
    before_start_.push_back(std::move(command));
    return;
  }
  driver_->post(std::move(command));
  wake_.notify_one();
}

Session::Started LiveSession::start(std::string_view operation_context) {
  // The compositor and the writer are made here (a missing font is a warning to the
  // sink); the encoders open with the first period, on the output side.
  const ScopedLogSink log_scope(config_.log);
  {
    std::unique_lock lock(control_mu_);
    if (Status s = control_state_.check(Operation::kStart, "start"); !s) return {s, {}};
    if (config_.out_dir.empty()) return {Status(SessionErrc::kInvalidArgument, "start(): out_dir is empty"), {}};
    recording_id_ = config_.recording_id.value_or(random_uuid_v4());
    const WallClock wall_start = clock_->wall_now();
    epoch_ = clock_->now();
    OutputDriverConfig driver_config{
        .core = SessionCoreConfig{.recording = {.out_dir = config_.out_dir,
                                                .call_id = config_.call_id,
                                                .resource_id = config_.resource_id,
                                                .recording_id = recording_id_,
                                                .recording_start_time = wall_start,
                                                .max_chunk_bytes = config_.max_chunk_bytes,
                                                // A constant quality under the bit rate as a
                                                // ceiling; without a quality, that average.
                                                .encoder = {.video_rate_control =
                                                                config_.video_quality
                                                                    ? muxer::VideoRateControl::kCappedQuality
                                                                    : muxer::VideoRateControl::kAverageBitrate,
                                                            .video_quality = config_.video_quality.value_or(
                                                                muxer::EncoderSettings{}.video_quality),
                                                            .video_bitrate_bps = config_.video_bitrate_bps,
                                                            .audio_bitrate_bps = config_.audio_bitrate_bps,
                                                            .video_lookahead_frames = config_.video_lookahead_frames,
                                                            .video_bframes = config_.video_bframes}},
                                  .call_epoch = wall_start,
                                  .mixer = {.max_talkers = config_.max_talkers, .drift_correction = true},
                                  .compositor = options_.compositor,
                                  .drop_late_video = true,
                                  .timeline_may_change = true,
                                  .make_writer = options_.make_writer},
        .jitter_window = jitter_,
        .open_decoder = options_.open_decoder,
        .on_event = config_.on_event,
        .on_finished = [this](const std::optional<std::string>& failure) { finished(failure); }};
    try {
      driver_ = std::make_unique<OutputDriver>(std::move(driver_config), problems_);
    } catch (const std::exception& e) {
      return {Status(SessionErrc::kOutputFailed, std::string("start(): ") + e.what()), {}};
    }
    (void)control_state_.apply(Operation::kStart, "start");
    post(Command{Command::Kind::kStart, MediaTime::from_us(0), std::string(operation_context), nullptr, {}});
    for (Command& c : before_start_) post(std::move(c));
    before_start_.clear();
    if (virtual_clock_) next_due_us_.store(epoch_.us());
  }
  // Outside the control lock: a clock that is advancing (and may be inside this
  // session's callbacks) holds its own lock first.
  if (virtual_clock_) {
    virtual_clock_->add_timer(*this);
  } else {
    output_ = std::thread([this] { run_output_thread(); });
  }
  return {Status(), recording_id_};
}

void LiveSession::run_output_thread() {
  const ScopedFlushDenormals flush_denormals;  // decoders, mixer and AAC encoder run here
  const ScopedLogSink log_scope(config_.log);
  for (;;) {
    const std::optional<MediaTime> next = driver_->run(call_now());
    if (driver_->ended()) return;
    std::unique_lock lock(control_mu_);
    // Until the next period is due or a command comes; at most 50 ms, so a clock that
    // jumped (a suspended machine) cannot leave the output asleep.
    const int64_t sleep_us = std::clamp<int64_t>(next ? (*next - call_now()).us() : 50'000, 0, 50'000);
    wake_.wait_for(lock, std::chrono::microseconds(sleep_us), [this] { return driver_->posted(); });
  }
}

std::optional<MediaTime> LiveSession::due() const {
  if (driver_->ended()) return std::nullopt;
  if (driver_->posted()) return virtual_clock_->now();
  const int64_t due_us = next_due_us_.load(std::memory_order_acquire);
  if (due_us < 0) return std::nullopt;
  return MediaTime::from_us(due_us);
}

void LiveSession::fire(MediaTime now) {
  // The thread advancing the clock is this session's output thread for the pass: its
  // lines go to this session's sink, whoever else's sink that thread holds.
  const ScopedFlushDenormals flush_denormals;
  const ScopedLogSink log_scope(config_.log);
  const std::optional<MediaTime> next = driver_->run(now - epoch_);
  next_due_us_.store(next ? (*next + epoch_).us() : -1, std::memory_order_release);
}

void LiveSession::finished(const std::optional<std::string>& failure) {
  const std::lock_guard lock(control_mu_);
  finished_ = true;
  if (failure) {
    control_state_.fail(*failure);
    failure_ = Status(SessionErrc::kOutputFailed, *failure);
  }
  finished_cv_.notify_all();
}

Status LiveSession::control(Operation op, const char* call, Command::Kind kind, std::string_view context) {
  const std::lock_guard lock(control_mu_);
  if (Status s = control_state_.apply(op, call); !s) return s;
  post(Command{kind, call_now(), std::string(context), nullptr, {}});
  return {};
}

Status LiveSession::pause(std::string_view context) {
  return control(Operation::kPause, "pause", Command::Kind::kPause, context);
}
Status LiveSession::resume(std::string_view context) {
  return control(Operation::kResume, "resume", Command::Kind::kResume, context);
}
Status LiveSession::stop(std::string_view context) {
  return control(Operation::kStop, "stop", Command::Kind::kStop, context);
}

RecordingState LiveSession::state() const {
  const std::lock_guard lock(control_mu_);
  return control_state_.recording_state();
}

Status LiveSession::wait() {
  std::unique_lock lock(control_mu_);
  if (Status s = control_state_.check(Operation::kWait, "wait"); !s) return s;
  if (virtual_clock_) {
    if (!finished_ && control_state_.phase() != Phase::kStopped) {
      return Status(SessionErrc::kInvalidArgument,
                    "wait(): the recording is still running; on a VirtualClock, stop() it first (wait() then "
                    "advances the clock to its end)");
    }
    lock.unlock();
    while (!driver_->ended()) {
      const std::optional<MediaTime> next = due();
      if (!next) break;
      virtual_clock_->advance_to(*next);
    }
    lock.lock();
    if (!finished_) return Status(SessionErrc::kOutputFailed, "wait(): the recording did not come to an end");
  }
  finished_cv_.wait(lock, [this] { return finished_; });
  return failure_.value_or(Status());
}

MediaTime LiveSession::now() const {
  const std::lock_guard lock(control_mu_);
  return control_state_.phase() == Phase::kIdle ? MediaTime::from_us(0) : call_now();
}

Status LiveSession::join(std::string_view participant_id, std::string_view display_name) {
  if (participant_id.empty()) return Status(SessionErrc::kInvalidArgument, "join(): empty participant id");
  const std::lock_guard lock(control_mu_);
  if (Status s = control_state_.check(Operation::kJoin, "join"); !s) return s;
  bool& present = present_[std::string(participant_id)];
  if (present) {
    return Status(SessionErrc::kParticipantPresent,
                  "join(): participant \"" + std::string(participant_id) + "\" is already in the call");
  }
  std::shared_ptr<ParticipantQueue>& queue = queues_[std::string(participant_id)];
  if (!queue) queue = std::make_shared<ParticipantQueue>(std::string(participant_id), queue_limits_, &problems_);
  // A participant who joins again is a new sender: its RTP timestamps start afresh.
  queue->reset_rtp();
  present = true;
  const MediaTime at = control_state_.phase() == Phase::kIdle ? MediaTime::from_us(0) : call_now();
  post(Command{Command::Kind::kJoin, at, {}, queue, std::string(display_name)});
  return {};
}

Status LiveSession::leave(std::string_view participant_id) {
  const std::lock_guard lock(control_mu_);
  if (Status s = control_state_.check(Operation::kLeave, "leave"); !s) return s;
  const auto it = present_.find(participant_id);
  if (it == present_.end() || !it->second) {
    return Status(SessionErrc::kUnknownParticipant,
                  "leave(): participant \"" + std::string(participant_id) + "\" is not in the call");
  }
  it->second = false;
  const MediaTime at = control_state_.phase() == Phase::kIdle ? MediaTime::from_us(0) : call_now();
  post(Command{Command::Kind::kLeave, at, {}, queues_.find(participant_id)->second, {}});
  return {};
}

Status LiveSession::set_screen_share(std::string_view participant_id, bool on) {
  const std::lock_guard lock(control_mu_);
  if (Status s = control_state_.check(Operation::kScreenShare, "set_screen_share"); !s) return s;
  const auto it = present_.find(participant_id);
  if (it == present_.end() || !it->second) {
    return Status(SessionErrc::kUnknownParticipant,
                  "set_screen_share(): participant \"" + std::string(participant_id) + "\" is not in the call");
  }
  const MediaTime at = control_state_.phase() == Phase::kIdle ? MediaTime::from_us(0) : call_now();
  post(Command{on ? Command::Kind::kScreenOn : Command::Kind::kScreenOff, at, {},
               queues_.find(participant_id)->second, {}});
  return {};
}

Status LiveSession::refuse(std::string message) {
  media_refused_.fetch_add(1, std::memory_order_relaxed);
  return Status(SessionErrc::kInvalidArgument, std::move(message));
}

Status LiveSession::media_queue(std::string_view participant_id, const char* call,
                                std::shared_ptr<ParticipantQueue>& queue, MediaTime& now) {
  const std::lock_guard lock(control_mu_);
  if (Status s = control_state_.check(Operation::kPushMedia, call); !s) return s;
  const auto it = present_.find(participant_id);
  if (it == present_.end() || !it->second) {
    return Status(SessionErrc::kUnknownParticipant, std::string(call) + "(): media for participant \"" +
                                                        std::string(participant_id) + "\", who is not in the call");
  }
  queue = queues_.find(participant_id)->second;
  now = call_now();
  return {};
}

Status LiveSession::push_opus(std::string_view participant_id, std::span<const uint8_t> packet,
                              std::optional<uint32_t> rtp_timestamp, std::optional<MediaTime> timestamp,
                              std::optional<int> audio_level_dbov) {
  if (packet.size() > static_cast<size_t>(MediaLimits::kMaxOpusPacketBytes)) {
    return refuse("push_opus(): a packet of " + std::to_string(packet.size()) + " bytes is larger than " +
                  std::to_string(MediaLimits::kMaxOpusPacketBytes));
  }
  if (audio_level_dbov && (*audio_level_dbov < 0 || *audio_level_dbov > 127)) {
    return refuse("push_opus(): audio level " + std::to_string(*audio_level_dbov) + " is not 0-127 dBov");
  }
  if (timestamp) {
    if (const auto problem = timestamp_problem(*timestamp)) return refuse("push_opus(): " + *problem);
  }
  std::shared_ptr<ParticipantQueue> queue;
  MediaTime now = MediaTime::from_us(0);
  if (Status s = media_queue(participant_id, "push_opus", queue, now); !s) return s;
  const auto fill = [&](MediaItem& item) {
    item.kind = MediaKind::kOpus;
    if (timestamp) item.at = *timestamp;
    item.bytes.assign(packet.begin(), packet.end());
    item.payload_bytes = packet.size();
    // Without an RFC 6464 level, a packet larger than comfort noise is taken as voice.
    item.voice_active = audio_level_dbov ? *audio_level_dbov < 40 : packet.size() > 24;
    return Status();
  };
  return rtp_timestamp ? queue->push_rtp(RtpStream::kAudio, *rtp_timestamp, now, fill) : queue->push(now, fill);
}

Status LiveSession::push_pcm(std::string_view participant_id, std::span<const int16_t> interleaved,
                             int sample_rate_hz, int channels, MediaTime timestamp) {
  if (sample_rate_hz < 8000 || sample_rate_hz > 48000 || channels < 1 || channels > 8 ||
      interleaved.size() % static_cast<size_t>(channels) != 0) {
    return refuse("push_pcm(): sample rate must be 8-48 kHz, 1-8 channels, whole frames");
  }
  const int64_t samples = static_cast<int64_t>(interleaved.size()) / channels;
  if (samples == 0) return refuse("push_pcm(): no samples");
  if (samples * 1'000'000 / sample_rate_hz > MediaLimits::kMaxPushedAudioUs) {
    return refuse("push_pcm(): a block of " + std::to_string(samples) + " samples at " +
                  std::to_string(sample_rate_hz) + " Hz is longer than " +
                  std::to_string(MediaLimits::kMaxPushedAudioUs / 1000) + " ms");
  }
  if (const auto problem = timestamp_problem(timestamp)) return refuse("push_pcm(): " + *problem);
  std::shared_ptr<ParticipantQueue> queue;
  MediaTime now = MediaTime::from_us(0);
  if (Status s = media_queue(participant_id, "push_pcm", queue, now); !s) return s;
  return queue->push(now, [&](MediaItem& item) {
    item.kind = MediaKind::kPcm;
    item.at = timestamp;
    item.sample_rate_hz = sample_rate_hz;
    item.channels = channels;
    item.samples = static_cast<int>(samples);
    const auto* bytes = reinterpret_cast<const uint8_t*>(interleaved.data());
    item.bytes.assign(bytes, bytes + interleaved.size_bytes());
    return Status();
  });
}

Status LiveSession::push_audio_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp) {
  if (const auto problem = audio_frame_problem(frame)) return refuse("push_audio_frame(): " + *problem);
  if (const auto problem = timestamp_problem(timestamp)) return refuse("push_audio_frame(): " + *problem);
  std::shared_ptr<ParticipantQueue> queue;
  MediaTime now = MediaTime::from_us(0);
  if (Status s = media_queue(participant_id, "push_audio_frame", queue, now); !s) return s;
  return queue->push(now, [&](MediaItem& item) {
    if (!keep_frame(item.frame, frame)) {
      return Status(SessionErrc::kInvalidArgument, "push_audio_frame(): the frame cannot be referenced or copied");
    }
    item.kind = MediaKind::kAudioFrame;
    item.at = timestamp;
    return Status();
  });
}

Status LiveSession::push_video_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp,
                                     VideoTrack track) {
  if (track != VideoTrack::kCamera && track != VideoTrack::kScreen) return refuse("push_video_frame(): no such track");
  if (const auto problem = picture_problem(frame)) return refuse("push_video_frame(): " + *problem);
  if (const auto problem = timestamp_problem(timestamp)) return refuse("push_video_frame(): " + *problem);
  std::shared_ptr<ParticipantQueue> queue;
  MediaTime now = MediaTime::from_us(0);
  if (Status s = media_queue(participant_id, "push_video_frame", queue, now); !s) return s;
  return queue->push(now, [&](MediaItem& item) {
    if (!keep_frame(item.frame, frame)) {
      return Status(SessionErrc::kInvalidArgument, "push_video_frame(): the frame cannot be referenced or copied");
    }
    item.kind = MediaKind::kVideoFrame;
    item.at = timestamp;
    item.track = track;
    return Status();
  });
}

Status LiveSession::push_video_packet(std::string_view participant_id, VideoCodec codec,
                                      std::span<const uint8_t> data, std::optional<uint32_t> rtp_timestamp,
                                      std::optional<MediaTime> timestamp, VideoTrack track) {
  if (data.empty()) return refuse("push_video_packet(): empty packet");
  if (data.size() > static_cast<size_t>(MediaLimits::kMaxPacketBytes)) {
    return refuse("push_video_packet(): a frame of " + std::to_string(data.size()) + " bytes is larger than " +
                  std::to_string(MediaLimits::kMaxPacketBytes));
  }
  if (codec != VideoCodec::kH264 && codec != VideoCodec::kVp8) return refuse("push_video_packet(): no such codec");
  if (track != VideoTrack::kCamera && track != VideoTrack::kScreen) return refuse("push_video_packet(): no such track");
  if (!have_decoder(codec)) {
    return refuse(std::string("push_video_packet(): this FFmpeg has no ") +
                  (codec == VideoCodec::kH264 ? "H.264" : "VP8") + " decoder");
  }
  if (timestamp) {
    if (const auto problem = timestamp_problem(*timestamp)) return refuse("push_video_packet(): " + *problem);
  }
  std::shared_ptr<ParticipantQueue> queue;
  MediaTime now = MediaTime::from_us(0);
  if (Status s = media_queue(participant_id, "push_video_packet", queue, now); !s) return s;
  const auto fill = [&](MediaItem& item) {
    item.kind = MediaKind::kVideoPacket;
    if (timestamp) item.at = *timestamp;
    item.codec = codec;
    item.track = track;
    // Room for the decoder's padding, so the frame can be decoded in place.
    item.bytes.resize(data.size() + AV_INPUT_BUFFER_PADDING_SIZE);
    std::copy(data.begin(), data.end(), item.bytes.begin());
    std::fill(item.bytes.begin() + static_cast<std::ptrdiff_t>(data.size()), item.bytes.end(), 0);
    item.payload_bytes = data.size();
    return Status();
  };
  if (!rtp_timestamp) return queue->push(now, fill);
  return queue->push_rtp(track == VideoTrack::kScreen ? RtpStream::kScreen : RtpStream::kCamera, *rtp_timestamp, now,
                         fill);
}

SessionStats LiveSession::stats() const {
  const std::lock_guard lock(control_mu_);
  SessionStats s;
  if (driver_) {
    s.periods_written = driver_->periods_written();
    s.periods_late = driver_->periods_late();
    s.max_output_lag_ms = driver_->max_lag_us() / 1000;
    s.video_frames_dropped_late = driver_->video_frames_dropped_late();
    s.output_thread_cpu_s = driver_->cpu_seconds();
  }
  s.media_refused = media_refused_.load(std::memory_order_relaxed);
  for (const auto& [id, queue] : queues_) {
    const ParticipantCounters& c = queue->counters();
    s.media_dropped_queue_full += c.dropped_queue_full.load(std::memory_order_relaxed);
    s.video_decode_errors += c.video_decode_errors.load(std::memory_order_relaxed);
    s.media_dropped_timestamp += c.dropped_timestamp.load(std::memory_order_relaxed);
    s.media_dropped_unusable += c.dropped_unusable.load(std::memory_order_relaxed);
    s.rtp_clock_resets += c.rtp_reanchors.load(std::memory_order_relaxed);
    s.keyframes_wanted += c.keyframes_wanted.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace callrec::engine
