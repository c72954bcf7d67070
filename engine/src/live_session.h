// LiveSession: the control side of callrec::Session (include/callrec/session.h has the
// contract), and what schedules its output.
//
// Callers (any thread) go through the control state machine (ControlState) under the
// control lock; media goes into the participant's ParticipantQueue after the checks that
// can be made at the push. The OutputDriver does the rest. It runs on an output thread
// of the session's own when the clock is real; with a VirtualClock the session is a
// timer of that clock and the driver runs inside VirtualClock::advance_to().
//
// Session is a thin forwarder to this class; tests and fuzzers that need what the
// public API does not offer (a writer of their own, a smaller canvas, a decoder that
// fails to open) construct it directly with LiveSessionOptions.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "callrec/compositor/video_compositor.h"
#include "callrec/core/clock.h"
#include "callrec/session.h"
#include "control_state.h"
#include "media_problems.h"
#include "output_driver.h"
#include "participant_queue.h"

namespace callrec::engine {

struct LiveSessionOptions {
  PeriodWriterFactory make_writer;  // empty: a RecordingWriter
  VideoDecoderOpener open_decoder = open_video_decoder;
  compositor::CompositorConfig compositor;  // the canvas must match the writer's
};

class LiveSession final : private VirtualClock::Timer {
 public:
  explicit LiveSession(SessionConfig config, LiveSessionOptions options = {});
  ~LiveSession() override;
  LiveSession(const LiveSession&) = delete;
  LiveSession& operator=(const LiveSession&) = delete;

  Session::Started start(std::string_view operation_context);
  Status pause(std::string_view operation_context);
  Status resume(std::string_view operation_context);
  Status stop(std::string_view operation_context);
  RecordingState state() const;
  Status wait();
  MediaTime now() const;

  Status join(std::string_view participant_id, std::string_view display_name);
  Status leave(std::string_view participant_id);
  Status set_screen_share(std::string_view participant_id, bool on);

  Status push_opus(std::string_view participant_id, std::span<const uint8_t> packet,
                   std::optional<uint32_t> rtp_timestamp, std::optional<MediaTime> timestamp,
                   std::optional<int> audio_level_dbov);
  Status push_pcm(std::string_view participant_id, std::span<const int16_t> interleaved, int sample_rate_hz,
                  int channels, MediaTime timestamp);
  Status push_audio_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp);
  Status push_video_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp,
                          VideoTrack track);
  Status push_video_packet(std::string_view participant_id, VideoCodec codec, std::span<const uint8_t> data,
                           std::optional<uint32_t> rtp_timestamp, std::optional<MediaTime> timestamp,
                           VideoTrack track);

  SessionStats stats() const;

 private:
  // VirtualClock::Timer (virtual time only); clock times.
  std::optional<MediaTime> due() const override;
  void fire(MediaTime now) override;

  MediaTime call_now() const;  // control_mu_ not needed: epoch_ is set before start returns
  Status control(Operation op, const char* call, Command::Kind kind, std::string_view context);
  void post(Command command);  // control_mu_ held
  // The participant's queue for a push, and the call time of the push.
  Status media_queue(std::string_view participant_id, const char* call, std::shared_ptr<ParticipantQueue>& queue,
                     MediaTime& now);
  Status refuse(std::string message);  // counts a push refused as invalid
  void run_output_thread();
  void finished(const std::optional<std::string>& failure);

  SessionConfig config_;
  LiveSessionOptions options_;
  std::shared_ptr<Clock> clock_;
  VirtualClock* virtual_clock_ = nullptr;  // clock_ when it is virtual
  MediaTime jitter_;
  ParticipantQueue::Limits queue_limits_;
  MediaProblemLog problems_;

  mutable std::mutex control_mu_;
  std::condition_variable wake_;      // the output thread sleeps on it
  std::condition_variable finished_cv_;
  ControlState control_state_;                                   // guarded by control_mu_
  std::map<std::string, std::shared_ptr<ParticipantQueue>, std::less<>> queues_;  // guarded by control_mu_
  std::map<std::string, bool, std::less<>> present_;            // guarded by control_mu_
  std::vector<Command> before_start_;                            // guarded by control_mu_
  bool finished_ = false;                                        // guarded by control_mu_
  std::optional<Status> failure_;                                // guarded by control_mu_
  std::string recording_id_;
  MediaTime epoch_ = MediaTime::from_us(0);  // clock time of call time 0; set by start()

  std::unique_ptr<OutputDriver> driver_;  // made by start(); then run by the output side
  std::atomic<int64_t> next_due_us_{-1};  // virtual time: clock time of the next pass, -1 none
  std::atomic<int64_t> media_refused_{0};
  std::thread output_;
};

}  // namespace callrec::engine
