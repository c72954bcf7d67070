// The control state machine: every operation in every phase, against the contract
// (include/callrec/session.h): wrong calls are refused with the right code and change
// nothing.
#include "control_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace callrec::engine {
namespace {

constexpr Operation kAll[] = {Operation::kStart, Operation::kPause,     Operation::kResume,
                              Operation::kStop,  Operation::kPushMedia, Operation::kJoin,
                              Operation::kLeave, Operation::kScreenShare, Operation::kWait};

// Drives a fresh state machine into `phase` through the public operations.
ControlState in_phase(Phase phase) {
  ControlState s;
  if (phase == Phase::kIdle) return s;
  EXPECT_TRUE(s.apply(Operation::kStart, "start"));
  if (phase == Phase::kPaused) {
    EXPECT_TRUE(s.apply(Operation::kPause, "pause"));
  }
  if (phase == Phase::kStopped) {
    EXPECT_TRUE(s.apply(Operation::kStop, "stop"));
  }
  if (phase == Phase::kFailed) s.fail("disk full");
  EXPECT_EQ(s.phase(), phase);
  return s;
}

struct Expected {
  Phase from;
  Operation op;
  SessionErrc result;
  Phase to;  // where it ends (the same phase when refused)
};

// The contract, written out: one row per phase and operation.
const std::vector<Expected> kContract = {
    {Phase::kIdle, Operation::kStart, SessionErrc::kOk, Phase::kRecording},
    {Phase::kIdle, Operation::kPause, SessionErrc::kNotStarted, Phase::kIdle},
    {Phase::kIdle, Operation::kResume, SessionErrc::kNotStarted, Phase::kIdle},
    {Phase::kIdle, Operation::kStop, SessionErrc::kNotStarted, Phase::kIdle},
    {Phase::kIdle, Operation::kPushMedia, SessionErrc::kNotStarted, Phase::kIdle},
    {Phase::kIdle, Operation::kJoin, SessionErrc::kOk, Phase::kIdle},
    {Phase::kIdle, Operation::kLeave, SessionErrc::kOk, Phase::kIdle},
    {Phase::kIdle, Operation::kScreenShare, SessionErrc::kOk, Phase::kIdle},
    {Phase::kIdle, Operation::kWait, SessionErrc::kNotStarted, Phase::kIdle},

    {Phase::kRecording, Operation::kStart, SessionErrc::kAlreadyStarted, Phase::kRecording},
    {Phase::kRecording, Operation::kPause, SessionErrc::kOk, Phase::kPaused},
    {Phase::kRecording, Operation::kResume, SessionErrc::kNotPaused, Phase::kRecording},
    {Phase::kRecording, Operation::kStop, SessionErrc::kOk, Phase::kStopped},
    {Phase::kRecording, Operation::kPushMedia, SessionErrc::kOk, Phase::kRecording},
    {Phase::kRecording, Operation::kJoin, SessionErrc::kOk, Phase::kRecording},
    {Phase::kRecording, Operation::kLeave, SessionErrc::kOk, Phase::kRecording},
    {Phase::kRecording, Operation::kScreenShare, SessionErrc::kOk, Phase::kRecording},
    {Phase::kRecording, Operation::kWait, SessionErrc::kOk, Phase::kRecording},

    {Phase::kPaused, Operation::kStart, SessionErrc::kAlreadyStarted, Phase::kPaused},
    {Phase::kPaused, Operation::kPause, SessionErrc::kAlreadyPaused, Phase::kPaused},
    {Phase::kPaused, Operation::kResume, SessionErrc::kOk, Phase::kRecording},
    {Phase::kPaused, Operation::kStop, SessionErrc::kOk, Phase::kStopped},
    {Phase::kPaused, Operation::kPushMedia, SessionErrc::kOk, Phase::kPaused},  // cut from the output later
    {Phase::kPaused, Operation::kJoin, SessionErrc::kOk, Phase::kPaused},
    {Phase::kPaused, Operation::kLeave, SessionErrc::kOk, Phase::kPaused},
    {Phase::kPaused, Operation::kScreenShare, SessionErrc::kOk, Phase::kPaused},
    {Phase::kPaused, Operation::kWait, SessionErrc::kOk, Phase::kPaused},

    {Phase::kStopped, Operation::kStart, SessionErrc::kAlreadyStarted, Phase::kStopped},
    {Phase::kStopped, Operation::kPause, SessionErrc::kStopped, Phase::kStopped},
    {Phase::kStopped, Operation::kResume, SessionErrc::kStopped, Phase::kStopped},
    {Phase::kStopped, Operation::kStop, SessionErrc::kStopped, Phase::kStopped},
    {Phase::kStopped, Operation::kPushMedia, SessionErrc::kStopped, Phase::kStopped},
    {Phase::kStopped, Operation::kJoin, SessionErrc::kStopped, Phase::kStopped},
    {Phase::kStopped, Operation::kLeave, SessionErrc::kStopped, Phase::kStopped},
    {Phase::kStopped, Operation::kScreenShare, SessionErrc::kStopped, Phase::kStopped},
    {Phase::kStopped, Operation::kWait, SessionErrc::kOk, Phase::kStopped},

    {Phase::kFailed, Operation::kStart, SessionErrc::kOutputFailed, Phase::kFailed},
    {Phase::kFailed, Operation::kPause, SessionErrc::kOutputFailed, Phase::kFailed},
    {Phase::kFailed, Operation::kResume, SessionErrc::kOutputFailed, Phase::kFailed},
    {Phase::kFailed, Operation::kStop, SessionErrc::kOutputFailed, Phase::kFailed},
    {Phase::kFailed, Operation::kPushMedia, SessionErrc::kOutputFailed, Phase::kFailed},
    {Phase::kFailed, Operation::kJoin, SessionErrc::kOutputFailed, Phase::kFailed},
    {Phase::kFailed, Operation::kLeave, SessionErrc::kOutputFailed, Phase::kFailed},
    {Phase::kFailed, Operation::kScreenShare, SessionErrc::kOutputFailed, Phase::kFailed},
    {Phase::kFailed, Operation::kWait, SessionErrc::kOk, Phase::kFailed},
};

TEST(ControlState, EveryOperationInEveryPhaseFollowsTheContract) {
  ASSERT_EQ(kContract.size(), 5u * std::size(kAll));
  for (const Expected& row : kContract) {
    ControlState s = in_phase(row.from);
    const Status checked = s.check(row.op, "op");
    EXPECT_EQ(s.phase(), row.from) << "check() changes nothing";
    const Status applied = s.apply(row.op, "op");
    SCOPED_TRACE("phase " + std::to_string(static_cast<int>(row.from)) + " op " +
                 std::to_string(static_cast<int>(row.op)));
    EXPECT_EQ(checked.code(), row.result);
    EXPECT_EQ(applied.code(), row.result);
    EXPECT_EQ(s.phase(), row.to);
    if (!applied) {
      EXPECT_EQ(applied.message().rfind("op(): ", 0), 0u) << applied.message();
    }
  }
}

TEST(ControlState, MessagesSayWhatIsWrong) {
  ControlState s;
  EXPECT_EQ(s.apply(Operation::kPause, "pause").message(), "pause(): the session has not been started");
  ASSERT_TRUE(s.apply(Operation::kStart, "start"));
  EXPECT_EQ(s.apply(Operation::kResume, "resume").message(), "resume(): the recording is not paused");
  ASSERT_TRUE(s.apply(Operation::kStop, "stop"));
  EXPECT_EQ(s.apply(Operation::kStop, "stop").message(), "stop(): the recording has already been stopped");
  EXPECT_EQ(s.apply(Operation::kPushMedia, "push_opus").message(), "push_opus(): the recording has been stopped");
  s.fail("chunk x.mp4: No space left on device");
  EXPECT_EQ(s.apply(Operation::kPushMedia, "push_pcm").message(),
            "push_pcm(): the recording failed: chunk x.mp4: No space left on device");
  EXPECT_EQ(s.recording_state(), RecordingState::kInactive);
}

TEST(ControlState, ActiveOnlyWhileRecording) {
  ControlState s;
  EXPECT_EQ(s.recording_state(), RecordingState::kInactive);
  ASSERT_TRUE(s.apply(Operation::kStart, "start"));
  EXPECT_EQ(s.recording_state(), RecordingState::kActive);
  ASSERT_TRUE(s.apply(Operation::kPause, "pause"));
  EXPECT_EQ(s.recording_state(), RecordingState::kInactive);
  ASSERT_TRUE(s.apply(Operation::kResume, "resume"));
  EXPECT_EQ(s.recording_state(), RecordingState::kActive);
}

}  // namespace
}  // namespace callrec::engine
