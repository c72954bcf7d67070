#include "control_state.h"

namespace callrec::engine {
namespace {

struct Transition {
  SessionErrc refusal;  // kOk: allowed
  Phase next;           // when allowed
};

constexpr int kPhases = 5;
constexpr int kOperations = 9;

constexpr Transition ok(Phase next) { return {SessionErrc::kOk, next}; }
constexpr Transition no(SessionErrc why) { return {why, Phase::kIdle}; }

constexpr SessionErrc kNotStarted = SessionErrc::kNotStarted;
constexpr SessionErrc kAlready = SessionErrc::kAlreadyStarted;
constexpr SessionErrc kStopped = SessionErrc::kStopped;
constexpr SessionErrc kFailed = SessionErrc::kOutputFailed;
using P = Phase;

// Rows: phase; columns: operation, both in the order of their enums.
constexpr Transition kTable[kPhases][kOperations] = {
    // idle
    {ok(P::kRecording), no(kNotStarted), no(kNotStarted), no(kNotStarted),  // start pause resume stop
     no(kNotStarted), ok(P::kIdle), ok(P::kIdle), ok(P::kIdle),             // media join leave share
     no(kNotStarted)},                                                      // wait
    // recording
    {no(kAlready), ok(P::kPaused), no(SessionErrc::kNotPaused), ok(P::kStopped),
     ok(P::kRecording), ok(P::kRecording), ok(P::kRecording), ok(P::kRecording),
     ok(P::kRecording)},
    // paused (media pushed now is cut from the output with the pause)
    {no(kAlready), no(SessionErrc::kAlreadyPaused), ok(P::kRecording), ok(P::kStopped),
     ok(P::kPaused), ok(P::kPaused), ok(P::kPaused), ok(P::kPaused),
     ok(P::kPaused)},
    // stopped
    {no(kAlready), no(kStopped), no(kStopped), no(kStopped),
     no(kStopped), no(kStopped), no(kStopped), no(kStopped),
     ok(P::kStopped)},
    // failed (the output failed; the recording has ended)
    {no(kFailed), no(kFailed), no(kFailed), no(kFailed),
     no(kFailed), no(kFailed), no(kFailed), no(kFailed),
     ok(P::kFailed)},
};

}  // namespace

Status ControlState::check(Operation op, std::string_view call) const {
  const Transition t = kTable[static_cast<int>(phase_)][static_cast<int>(op)];
  if (t.refusal == SessionErrc::kOk) return {};
  std::string why;
  switch (t.refusal) {
    case SessionErrc::kNotStarted: why = "the session has not been started"; break;
    case SessionErrc::kAlreadyStarted: why = "the session was already started"; break;
    case SessionErrc::kAlreadyPaused: why = "the recording is already paused"; break;
    case SessionErrc::kNotPaused: why = "the recording is not paused"; break;
    case SessionErrc::kStopped:
      why = op == Operation::kStop ? "the recording has already been stopped" : "the recording has been stopped";
      break;
    case SessionErrc::kOutputFailed: why = "the recording failed: " + failure_; break;
    default: why = to_string(t.refusal); break;
  }
  return Status(t.refusal, std::string(call) + "(): " + why);
}

Status ControlState::apply(Operation op, std::string_view call) {
  Status s = check(op, call);
  if (s) phase_ = kTable[static_cast<int>(phase_)][static_cast<int>(op)].next;
  return s;
}

void ControlState::fail(std::string message) {
  phase_ = Phase::kFailed;
  failure_ = std::move(message);
}

}  // namespace callrec::engine
