// MediaProblemLog: what a live session dropped of a participant's media and why, with
// the call time it happened, for the chunk metadata's "mediaProblems".
//
// Each chunk lists the problems noted since the chunk before: the first occurrence of
// each (participant, problem) in full with its time, later ones of the same kind
// folded into a count with the time of the last ("... (37 times, last at 15.020 s)"),
// so a participant sending garbage fifty times a second costs one line per chunk and
// bounded memory. The first time is written as call time and, when the wall-clock time
// of call time 0 is given, as UTC too, which is what `callrec report` places on its
// timeline (the first ISO 8601 time in a line):
//   participant "8:acs:eve" at 0.300 s (2026-11-27T10:00:00.300Z): VP8 frame could not
//   be decoded (Invalid data found when processing input) (5 times, last at 0.540 s)
//
// Threading: internally locked; pushing threads and the output thread note problems,
// the output thread takes them.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "callrec/core/media_time.h"
#include "callrec/core/wall_clock.h"

namespace callrec::engine {

// "12.345 s": a call time in messages (rounded down to the millisecond).
std::string format_call_time(MediaTime t);

class MediaProblemLog {
 public:
  // Distinct problems kept per chunk; beyond this they are counted in one closing line.
  static constexpr size_t kMaxKinds = 64;

  // `what` names the problem (the same text for the same kind, e.g. "VP8 frame could not
  // be decoded (Invalid data found when processing input)"); `at` is the call time.
  void note(std::string_view participant_id, std::string_view what, MediaTime at);

  // The lines for the chunk ending now, and starts afresh. `call_epoch`: the wall-clock
  // time of call time 0 (nullopt: call times only).
  std::vector<std::string> take(std::optional<WallClock> call_epoch = std::nullopt);

 private:
  struct Entry {
    MediaTime first;
    MediaTime last;
    int64_t count;
  };
  std::mutex mu_;
  // Keyed by (participant, what), in the order first seen.
  std::map<std::pair<std::string, std::string>, size_t, std::less<>> index_;  // guarded by mu_
  std::vector<std::pair<std::pair<std::string, std::string>, Entry>> entries_;  // guarded by mu_
  int64_t overflow_ = 0;  // guarded by mu_: problems of kinds beyond kMaxKinds
};

}  // namespace callrec::engine
