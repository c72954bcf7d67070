// RecordTimeline: which parts of the call timeline are recorded.
//
// The call timeline runs from media time 0 in microseconds. Recording covers the
// intervals between start/resume and pause/stop; the output timeline is the call
// timeline with everything else cut out. Without a stop, the last interval stays open
// until the end of the media is known (close_at()).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "callrec/engine/manifest.h"

namespace callrec::engine {

class RecordTimeline {
 public:
  struct Interval {
    int64_t start_us;
    std::optional<int64_t> end_us;  // nullopt: open (until the end of the media)
  };
  struct Pause {
    int64_t start_us;               // call time the pause began
    std::optional<int64_t> end_us;  // call time it ended (resume / stop / end of media)
  };

  // Empty actions: recording from 0 to the end of the media (or, live, until a stop is
  // applied).
  explicit RecordTimeline(const std::vector<TimelineAction>& actions);

  // Appends one action at call time `at_us` (live control). Actions come in time order
  // and in a valid order (start/resume after pause, pause after start/resume, one stop).
  void apply(TimelineActionKind kind, int64_t at_us);

  // The end of recording when known: the stop time, or the end of media once close_at().
  std::optional<int64_t> end_us() const;
  // Sets the end of the media: closes an open last interval (and a pause that lasts to
  // the end). Has no effect on a timeline that has a stop.
  void close_at(int64_t media_end_us);

  // Call time of output time `output_us`. An output instant at a pause boundary maps to
  // the first recorded instant after the pause.
  int64_t call_from_output(int64_t output_us) const;
  // The earliest call time at output time `output_us`: at a pause boundary, the instant
  // the pause began. Chunk start times use this, so that a chunk listing a pause at its
  // very start begins when that pause began and start(n+1) = start(n) + duration(n) +
  // the pauses listed in n.
  int64_t earliest_call_from_output(int64_t output_us) const;
  // Output time of call time `call_us` (a paused instant maps to where the pause sits).
  int64_t output_from_call(int64_t call_us) const;
  // Total output duration; only meaningful once end_us() is known.
  int64_t output_duration_us() const;

  const std::vector<Interval>& intervals() const { return intervals_; }
  const std::vector<Pause>& pauses() const { return pauses_; }
  int64_t first_start_us() const { return intervals_.front().start_us; }

 private:
  std::vector<Interval> intervals_;
  std::vector<Pause> pauses_;
  bool has_stop_ = false;
};

}  // namespace callrec::engine
