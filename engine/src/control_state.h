// ControlState: a live session's control state machine, as one transition table
// (control_state.cc), which every operation of the public API asks first: a wrong call
// gets the table's refusal and changes nothing.
//
//               start      pause        resume       stop       media, join,    wait
//                                                                leave, share
//   idle        recording  not started  not started  not started  (media: not     not started
//                                                                 started) ok
//   recording   already    paused       not paused   stopped      ok              ok
//   paused      already    already p.   recording    stopped      ok              ok
//   stopped     already    stopped      stopped      stopped      stopped         ok
//   failed      failed     failed       failed       failed       failed          ok
//
// Threading: not synchronised; the session holds its control lock around it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "callrec/session.h"

namespace callrec::engine {

enum class Phase { kIdle, kRecording, kPaused, kStopped, kFailed };
enum class Operation { kStart, kPause, kResume, kStop, kPushMedia, kJoin, kLeave, kScreenShare, kWait };

class ControlState {
 public:
  // Applies `op` when the table allows it (the phase moves on) and returns ok, or
  // returns the refusal, naming `call` (e.g. "pause") in its message.
  Status apply(Operation op, std::string_view call);
  // The same without applying it.
  Status check(Operation op, std::string_view call) const;

  // The output failed: every later operation but wait() is refused with `message`.
  void fail(std::string message);

  Phase phase() const { return phase_; }
  // CONTRACT §3: active while recording, inactive before start, paused, after stop.
  RecordingState recording_state() const {
    return phase_ == Phase::kRecording ? RecordingState::kActive : RecordingState::kInactive;
  }

 private:
  Phase phase_ = Phase::kIdle;
  std::string failure_;
};

}  // namespace callrec::engine
