// callrec::Session — the embedding API (docs/contract.md, "Embedding"): a live
// recording that a recording backend drives at run time.
//
//   callrec::Session session({.out_dir = "rec", .call_id = "c0ffee", .on_event = log});
//   auto started = session.start("op-1");            // started.recording_id
//   session.join("8:acs:ada", "Ada Lovelace");
//   session.push_opus("8:acs:ada", packet, rtp_timestamp);   // from any thread
//   session.push_video_packet("8:acs:ada", callrec::VideoCodec::kVp8, frame, rtp_timestamp);
//   session.pause("op-2"); session.resume("op-3"); session.stop("op-4");
//   session.wait();                                   // recording.json is written
//
// Time. Call time 0 is the instant start() is called; media time follows the session's
// clock (SessionConfig::clock: the monotonic wall clock unless a VirtualClock is given).
// Media pushed with a MediaTime timestamp is placed at that call time (now() tells the
// current one). Media pushed with an RTP timestamp (Opus: 48 kHz clock; video: 90 kHz)
// is placed by the participant's RTP clock, anchored to call time at the first packet's
// arrival; 32-bit wrap-around is handled, and a sender whose timestamps jump (a restart
// with a new base) is re-anchored once a second packet confirms the jump; a participant
// who leaves and joins again starts fresh RTP clocks. Output lags the clock by the
// jitter window: media arriving up to `jitter_window` late is placed where it belongs;
// later audio is dropped and counted (mixer statistics in each chunk's metadata), later
// pictures too. Media placed more than `max_media_ahead` after now (or a second behind
// the jitter window) is dropped, counted and refused with kDroppedTimestamp: it never
// waits in the queue. A participant who sends nothing shows a placeholder and is silent;
// they never hold up the others.
//
// Faults. Nothing one participant sends ends the recording for the others. Media that
// is wrong on its face (a sample rate, channel count, sample or pixel format, picture
// size or timestamp out of range, a hardware surface, an empty packet) is refused by
// the push with kInvalidArgument and a message saying what is wrong. Media that fails
// later (a packet the decoder refuses, a decoder that cannot open) is dropped, counted
// (participantMediaStats) and listed with its call time in the next chunk's
// "mediaProblems". Only the output (storage full, encoder error) ends a recording early.
//
// Threading. Every method may be called from any thread, concurrently. Push calls only
// copy (or reference) the media into the participant's bounded queue and return within
// microseconds: when the queue is full the media is dropped, counted and kQueueFull is
// returned. One output thread per session decodes, mixes, composes and encodes (with a
// VirtualClock: the thread advancing the clock, inside VirtualClock::advance_to()).
// Events are delivered on that thread, in order, never from inside a call into the
// session, so a callback may call pause()/stop()/push*() (but not wait() or ~Session).
//
// Errors. Methods never throw for a wrong call; they return a Status with a code and a
// one-line message (pause while paused, resume after stop, stop twice, push after stop,
// unknown participant, ...). An output failure (storage full, encoder error) ends the
// recording: the chunks written so far are completed (as `callrec recover` would) and
// recording.json is written with sessionEndReason "OutputFailed" and the failure in
// "sessionEndError"; a kError event says what failed, then kRecordingFinished carries
// that notification; later calls return kOutputFailed.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "callrec/core/clock.h"
#include "callrec/core/log.h"
#include "callrec/core/media_time.h"

extern "C" struct AVFrame;

namespace callrec {

enum class SessionErrc {
  kOk = 0,
  kNotStarted,            // pause/resume/stop/push before start()
  kAlreadyStarted,        // start() twice
  kAlreadyPaused,         // pause() while paused
  kNotPaused,             // resume() while recording
  kStopped,               // anything after stop() (including stop twice)
  kUnknownParticipant,    // media or leave for a participant not in the call
  kParticipantPresent,    // join() for a participant already in the call
  kInvalidArgument,       // empty participant id, bad sample rate, empty packet, ...
  kQueueFull,             // the participant's queue is full: the media was dropped
  kOutputFailed,          // the recording failed (see the kError event)
  kDroppedTimestamp,      // the media's time is too far from the call's clock: dropped, counted
};

// "kAlreadyPaused" -> "already_paused" style names, for logs.
const char* to_string(SessionErrc code);

class Status {
 public:
  Status() = default;
  Status(SessionErrc code, std::string message) : code_(code), message_(std::move(message)) {}
  bool ok() const { return code_ == SessionErrc::kOk; }
  explicit operator bool() const { return ok(); }
  SessionErrc code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  SessionErrc code_ = SessionErrc::kOk;
  std::string message_;
};

// docs/contract.md: a recording is active while it records, inactive before start, while
// paused and after stop.
enum class RecordingState { kInactive, kActive };

enum class SessionEventKind {
  kStateChanged,       // state, operation, operation_context
  kChunkFinished,      // data: the chunk's metadata JSON, as written beside it
  kRecordingFinished,  // data: the recording.json notification, as written
  kError,              // error, message
  // participant_id, track: that participant's video decoder needs a keyframe to go on
  // (it starts, or lost a reference picture). A backend with the sender's RTCP asks it
  // for one (PLI / FIR). At most once a second of media per participant and track.
  kKeyframeWanted,
};

enum class VideoCodec { kH264, kVp8 };
enum class VideoTrack { kCamera, kScreen };

struct SessionEvent {
  SessionEventKind kind;
  RecordingState state = RecordingState::kInactive;
  std::string operation;          // "start", "pause", "resume", "stop"
  std::string operation_context;  // as given with the operation that caused the event
  nlohmann::json data;
  SessionErrc error = SessionErrc::kOk;
  std::string message;
  std::string participant_id;            // kKeyframeWanted
  VideoTrack track = VideoTrack::kCamera;  // kKeyframeWanted
};

struct SessionConfig {
  std::filesystem::path out_dir;
  std::string call_id;
  std::string resource_id;                  // "" when absent
  std::optional<std::string> recording_id;  // generated (a UUID) when absent
  uint64_t max_chunk_bytes = 512ULL * 1024 * 1024;
  int video_bitrate_bps = 1'000'000;
  // 48 kbit/s: at 32 kbit/s the AAC encoder overshoots loud mixes past full scale.
  int audio_bitrate_bps = 48'000;
  // H.264 rate-control lookahead in pictures (0 to 16). 0 (x264's zerolatency) puts
  // each period in the file as soon as it is composed; N holds N more periods
  // (N x 125 ms, about 9 MB each) inside the encoder for most of a dB of picture quality.
  int video_lookahead_frames = 0;
  // H.264 B-frames between reference pictures (0 to 3). Off for live sessions, unlike
  // `callrec render` (2): each session then costs ~15 % more CPU (fewer sessions per
  // machine) and holds three periods more before they reach the file; two give
  // +0.3 dB PSNR on talking heads, +0.7 dB on full motion. See docs/performance.md.
  int video_bframes = 0;
  // How late media may arrive and still be placed where it belongs. Output (and the
  // files) lag the wall clock by about this much.
  std::chrono::milliseconds jitter_window{200};
  // Queue slots per participant (an Opus packet, a PCM block, a picture, a video
  // packet each take one). Beyond this, pushes are dropped and counted.
  int queue_capacity = 256;
  // Mix only the N loudest voices of each frame; nullopt: everyone.
  std::optional<int> max_talkers;
  // ---- added for issue 17 (fault isolation, virtual time) ----
  // Media placed further than this after the call's clock is dropped and counted
  // (kDroppedTimestamp) instead of waiting in the participant's queue.
  std::chrono::milliseconds max_media_ahead{1000};
  // Where the session reads the time. nullptr: the real clock (RealClock), and an
  // output thread of its own. A VirtualClock (callrec/core/clock.h) runs the session in
  // virtual time: no thread; the output is made inside the clock's advance_to(), on the
  // calling thread, at exactly the instants it is due, so tests and fuzzers get the
  // same recording on a loaded machine as on an idle one. With a VirtualClock, wait()
  // (and ~Session) advance the clock themselves until the recording has ended.
  std::shared_ptr<Clock> clock;
  // Receives every event on the session's output thread.
  std::function<void(const SessionEvent&)> on_event;
  // (Fields below were added later; they stay at the end so that designated
  // initializers written for the fields above keep compiling.)
  // Where libav's (FFmpeg's) log lines and callrec's own diagnostics of this session go:
  // a callback and a level (callrec/core/log.h). Called on the session's threads (the
  // output thread, its encoder worker, the thread calling start(); with a VirtualClock,
  // the thread advancing the clock and the one destroying the session): it must be
  // thread-safe. Without a callback they are dropped; the library never writes to
  // stderr. Several sessions in one process each get their own lines.
  LogSink log;
  // Picture quality on x264's CRF scale (0-51, lower is better). A live session codes at
  // this constant quality under a ceiling of video_bitrate_bps: when the call would need
  // more, the quality is lowered smoothly, and no stretch of t seconds carries more than
  // (t + 4) s of the ceiling (x264's VBV). Each picture is coded as it comes (no
  // lookahead). nullopt: an average of video_bitrate_bps instead, quality following the
  // content. See docs/encoder-settings.md.
  std::optional<int> video_quality = 23;
};

// Counters for monitoring and capacity planning.
struct SessionStats {
  int64_t periods_written = 0;        // 1/8 s output periods encoded
  int64_t periods_late = 0;           // written more than one period after they were due
  int64_t max_output_lag_ms = 0;      // worst lateness of a period
  int64_t media_dropped_queue_full = 0;
  int64_t video_frames_dropped_late = 0;
  int64_t video_decode_errors = 0;
  double output_thread_cpu_s = 0;     // CPU time of the output work (encoder threads excluded)
  int64_t media_refused = 0;            // pushes refused as invalid (kInvalidArgument)
  int64_t media_dropped_timestamp = 0;  // kDroppedTimestamp: too far ahead/behind, RTP jumps
  int64_t media_dropped_unusable = 0;   // dropped by the output: the stages could not take it
  int64_t rtp_clock_resets = 0;         // RTP streams re-anchored after a confirmed jump
  int64_t keyframes_wanted = 0;         // kKeyframeWanted events
};

class Session {
 public:
  // Nothing is written before start().
  explicit Session(SessionConfig config);
  // Stops the recording when it is still running and waits until it is finished.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  struct Started {
    Status status;
    std::string recording_id;
  };
  // Control. Each returns at once; the state-changed event carrying `operation_context`
  // follows on the output thread.
  Started start(std::string_view operation_context = {});
  Status pause(std::string_view operation_context = {});
  Status resume(std::string_view operation_context = {});
  Status stop(std::string_view operation_context = {});
  RecordingState state() const;
  // Blocks until the recording is finished after stop() (recording.json written) or
  // failed. Returns the failure, if any. With a VirtualClock it advances the clock to
  // the end of the recording instead, and refuses (kInvalidArgument) before stop().
  Status wait();

  // Current call time (since start(); 0 before).
  MediaTime now() const;

  // Participants. A participant joins the grid at the current call time (a placeholder
  // tile until video arrives) and leaves it at leave(). They may join again later.
  Status join(std::string_view participant_id, std::string_view display_name = {});
  Status leave(std::string_view participant_id);
  Status set_screen_share(std::string_view participant_id, bool on);

  // Audio. Opus packets (one RTP payload each) with their RTP timestamp (48 kHz);
  // `audio_level_dbov` is the RFC 6464 level when the backend has it (0 loudest, 127
  // silent), used for the speaker order; without it, packet size is the voice hint.
  Status push_opus(std::string_view participant_id, std::span<const uint8_t> packet, uint32_t rtp_timestamp,
                   std::optional<int> audio_level_dbov = std::nullopt);
  // The same with the packet's capture time already mapped to call time (a backend
  // that places its streams by RTCP sender reports).
  Status push_opus(std::string_view participant_id, std::span<const uint8_t> packet, MediaTime timestamp,
                   std::optional<int> audio_level_dbov = std::nullopt);
  // Interleaved 16-bit PCM, any rate 8-48 kHz, 1-8 channels, up to 2 s a block;
  // `timestamp` is the call time of the first sample.
  Status push_pcm(std::string_view participant_id, std::span<const int16_t> interleaved, int sample_rate_hz,
                  int channels, MediaTime timestamp);
  // Decoded audio in any libav sample format, 1-384 kHz, 1-64 channels (a layout
  // without a standard downmix is averaged), up to 2 s a frame.
  Status push_audio_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp);

  // Video. A decoded picture in memory (a hardware surface must be transferred first:
  // av_hwframe_transfer_data), in any pixel format swscale reads, up to 8192x8192 and
  // 8192x4320 pixels (referenced when refcounted, copied otherwise), shown at call time
  // `timestamp`.
  Status push_video_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp,
                          VideoTrack track = VideoTrack::kCamera);
  // One encoded frame (a whole H.264 access unit in Annex B, or a VP8 frame), with its
  // RTP timestamp (90 kHz). Decoded inside the session, one decoder per participant
  // and track; a decoder that needs a keyframe says so (kKeyframeWanted).
  Status push_video_packet(std::string_view participant_id, VideoCodec codec, std::span<const uint8_t> data,
                           uint32_t rtp_timestamp, VideoTrack track = VideoTrack::kCamera);
  // The same with the frame's capture time already mapped to call time.
  Status push_video_packet(std::string_view participant_id, VideoCodec codec, std::span<const uint8_t> data,
                           MediaTime timestamp, VideoTrack track = VideoTrack::kCamera);

  SessionStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec
