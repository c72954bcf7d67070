// ParticipantActivity: what one participant did during the recording, as stretches of
// the output timeline: in the call, showing their camera, sharing a screen, speaking.
//
// SessionCore feeds it once per output period (the state at the composed instant) and
// with every stretch of voice it hears; a chunk's metadata takes the stretches inside
// the chunk ("participantActivity", docs/report.md), in chunk-relative milliseconds
// and wall-clock time. A stretch never spans a pause: output time on both sides of a
// pause is continuous, call time is not, and wall-clock times must stay true.
//
// Threading: owned and used by the thread that owns the SessionCore.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include <nlohmann/json.hpp>

namespace callrec::engine {

class ParticipantActivity {
 public:
  // What the participant was doing during one output period.
  struct State {
    bool present = false;       // in the call (a camera/microphone or screen input is on)
    bool camera = false;        // their tile showed a picture of theirs, not the placeholder
    bool screen_share = false;  // a screen share of theirs was on
    bool speaking = false;      // voice was heard during the period (heard_during())
  };

  // Voice (a frame above the activity level) was heard over call time [start, end).
  // Stretches may come in any order, ahead of the periods they fall in.
  void heard(int64_t start_call_us, int64_t end_call_us);
  // Whether voice was heard over any part of call time [from, to). Forgets the voice
  // that ended at or before `from`: periods are asked about in increasing call time.
  bool heard_during(int64_t from_call_us, int64_t to_call_us);

  // The state during output period [out_us, out_us + period_us), whose media is call
  // time [call_us, call_us + period_us). Periods come in order, each once.
  void record(int64_t out_us, int64_t call_us, int64_t period_us, const State& state);

  // A stretch of output time with the call time it started at.
  struct Span {
    int64_t out_start_us;
    int64_t out_end_us;
    int64_t call_start_us;  // call time of out_start_us; call time runs with output time
  };
  enum Kind { kPresent, kCamera, kScreenShare, kSpeaking, kKindCount };
  const std::vector<Span>& spans(Kind kind) const { return spans_[kind]; }

  // The participant's entry for the chunk holding output time [start, end): for each
  // kind, the stretches inside it, clipped, as
  //   {"startMs", "endMs" (chunk-relative), "startTime", "endTime" (ISO 8601 UTC)}.
  // Null when the participant did nothing in the chunk. `epoch_us` is the wall-clock
  // time of call time 0.
  nlohmann::json chunk_entry(int64_t start_out_us, int64_t end_out_us, int64_t epoch_us) const;
  // Lets go of the stretches that end at or before output time `out_us` (chunks are
  // annotated in order, so those are never asked for again).
  void forget_before(int64_t out_us);

  static const char* kind_name(Kind kind);

 private:
  void extend(Kind kind, int64_t out_us, int64_t call_us, int64_t period_us);

  std::vector<Span> spans_[kKindCount];
  std::deque<std::pair<int64_t, int64_t>> voice_;  // heard call time, sorted, disjoint
};

}  // namespace callrec::engine
