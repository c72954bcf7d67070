// OutputDriver: the output side of a live session.
//
// It owns the SessionCore (mixer, compositor, writer), each participant's video
// decoders and the core's inputs, and runs in passes: run(now) takes the control
// commands posted since the last pass, hands every participant's media whose time has
// come (`now` minus the jitter window) to the core in call-time order, interleaved with
// that participant's joins, leaves and screen shares at their own times, and writes
// every output period whose media is final. The session runs it on its output thread
// (real time) or from a VirtualClock's advance (virtual time); it does not know which.
//
// Faults. Whatever one participant sends costs at most that media: an item the stages
// refuse (callrec::Error from the mixer, the compositor or a decoder) is dropped,
// counted on the participant and listed in the next chunk's mediaProblems with its call
// time. Only the output (storage, encoders) can end the recording early: the driver
// then lets go of the writer, recovers the chunks written so far (each finished chunk
// stays; the open ones are completed from their fragments) and writes recording.json
// with sessionEndReason "OutputFailed" and the failure as "sessionEndError".
//
// Threading: run() from one thread at a time (that thread is the output thread for the
// pass; events and the finished callback are delivered on it, with no lock held);
// post() and the stats from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/core/media_time.h"
#include "callrec/session.h"
#include "media_problems.h"
#include "participant_queue.h"
#include "session_core.h"
#include "video_packet_decoder.h"

namespace callrec::engine {

// A control operation handed from the session's callers to its output side.
struct Command {
  enum class Kind { kStart, kPause, kResume, kStop, kJoin, kLeave, kScreenOn, kScreenOff };
  Kind kind;
  MediaTime at;         // call time it was issued
  std::string context;  // start/pause/resume/stop: the operation context
  std::shared_ptr<ParticipantQueue> participant;  // join/leave/screen share
  std::string display_name;                       // join
};

// sessionEndReason of a recording whose output failed.
inline constexpr const char* kOutputFailedEndReason = "OutputFailed";

struct OutputDriverConfig {
  SessionCoreConfig core;  // recording, mixer, compositor, writer; callbacks are the driver's
  MediaTime jitter_window = MediaTime::from_ms(200);
  VideoDecoderOpener open_decoder = open_video_decoder;
  std::function<void(const SessionEvent&)> on_event;
  // Once, when the recording has ended: nullopt when it finished, else the failure.
  std::function<void(const std::optional<std::string>& failure)> on_finished;
};

class OutputDriver {
 public:
  // Creates the output (the writer checks the output directory): throws callrec::Error
  // when it cannot. `problems` outlives the driver.
  OutputDriver(OutputDriverConfig config, MediaProblemLog& problems);
  ~OutputDriver();
  OutputDriver(const OutputDriver&) = delete;
  OutputDriver& operator=(const OutputDriver&) = delete;

  // Any thread.
  void post(Command command);
  bool posted() const;

  // Does what is due at call time `now`. Returns the call time at which the next pass
  // can do more (the next period's media becomes final, or a join or leave is reached),
  // or nullopt once the recording has ended.
  std::optional<MediaTime> run(MediaTime now);
  bool ended() const { return ended_.load(std::memory_order_acquire); }

  // Any thread.
  int64_t periods_written() const { return periods_written_.load(std::memory_order_relaxed); }
  int64_t periods_late() const { return periods_late_.load(std::memory_order_relaxed); }
  int64_t max_lag_us() const { return max_lag_us_.load(std::memory_order_relaxed); }
  int64_t video_frames_dropped_late() const { return video_dropped_late_.load(std::memory_order_relaxed); }
  double cpu_seconds() const { return cpu_s_.load(std::memory_order_relaxed); }

 private:
  struct Participant {
    explicit Participant(std::shared_ptr<ParticipantQueue> q, const VideoDecoderOpener& opener)
        : queue(std::move(q)), camera_decoder(opener), screen_decoder(opener) {}
    std::shared_ptr<ParticipantQueue> queue;
    std::optional<SessionCore::ParticipantIndex> core_index;
    std::optional<SessionCore::InputId> camera;  // while in the call
    std::optional<SessionCore::InputId> screen;  // while sharing
    VideoPacketDecoder camera_decoder;
    VideoPacketDecoder screen_decoder;
    std::deque<Command> commands;  // joins, leaves, shares not yet reached by the output
  };

  void take_commands();
  void apply_timeline(const Command& c);
  void apply_participant(Participant& p, const Command& c);
  void release(Participant& p, MediaTime limit);
  void route(Participant& p, MediaItem& item);
  void route_video_packet(Participant& p, MediaItem& item, SessionCore::InputId input);
  void write_periods(MediaTime now, MediaTime limit);
  void finish();
  void fail(const std::string& message);
  Participant& participant(const std::shared_ptr<ParticipantQueue>& queue);
  void emit(SessionEvent event) const;

  OutputDriverConfig config_;
  MediaProblemLog& problems_;
  std::filesystem::path out_dir_;

  mutable std::mutex inbox_mu_;
  std::vector<Command> inbox_;  // guarded by inbox_mu_
  std::atomic<bool> posted_{false};

  // The output thread's.
  std::unique_ptr<SessionCore> core_;
  std::deque<Participant> participants_;  // everyone who ever joined, in join order
  std::map<const ParticipantQueue*, size_t> index_;
  std::vector<Command> taken_;  // scratch
  av::FramePtr pcm_frame_ = av::make_frame();
  std::atomic<bool> ended_{false};

  std::atomic<int64_t> periods_written_{0};
  std::atomic<int64_t> periods_late_{0};
  std::atomic<int64_t> max_lag_us_{0};
  std::atomic<int64_t> video_dropped_late_{0};
  std::atomic<double> cpu_s_{0};
};

}  // namespace callrec::engine
