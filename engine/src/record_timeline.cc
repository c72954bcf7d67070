#include "callrec/engine/record_timeline.h"

#include <algorithm>
#include <limits>

namespace callrec::engine {

RecordTimeline::RecordTimeline(const std::vector<TimelineAction>& actions) {
  if (actions.empty()) {
    intervals_.push_back({0, std::nullopt});
    return;
  }
  // The manifest parser has validated the order of actions.
  for (const TimelineAction& a : actions) apply(a.kind, a.at_ms * 1000);
}

void RecordTimeline::apply(TimelineActionKind kind, int64_t t) {
  switch (kind) {
    case TimelineActionKind::kStart:
    case TimelineActionKind::kResume:
      if (!pauses_.empty() && !pauses_.back().end_us) pauses_.back().end_us = t;
      intervals_.push_back({t, std::nullopt});
      break;
    case TimelineActionKind::kPause:
      intervals_.back().end_us = t;
      pauses_.push_back({t, std::nullopt});
      break;
    case TimelineActionKind::kStop:
      has_stop_ = true;
      if (!intervals_.back().end_us) intervals_.back().end_us = t;
      if (!pauses_.empty() && !pauses_.back().end_us) pauses_.back().end_us = t;
      break;
  }
}

std::optional<int64_t> RecordTimeline::end_us() const {
  if (!pauses_.empty() && pauses_.back().start_us >= intervals_.back().start_us) return pauses_.back().end_us;
  return intervals_.back().end_us;
}

void RecordTimeline::close_at(int64_t media_end_us) {
  if (has_stop_) return;
  Interval& last = intervals_.back();
  if (!last.end_us) last.end_us = std::max(last.start_us, media_end_us);
  if (!pauses_.empty() && !pauses_.back().end_us)
    pauses_.back().end_us = std::max(pauses_.back().start_us, media_end_us);
}

int64_t RecordTimeline::call_from_output(int64_t output_us) const {
  int64_t passed = 0;
  for (const Interval& i : intervals_) {
    const int64_t length = i.end_us ? *i.end_us - i.start_us : std::numeric_limits<int64_t>::max() / 2;
    if (output_us < passed + length) return i.start_us + (output_us - passed);
    passed += length;
  }
  const Interval& last = intervals_.back();
  return last.end_us.value_or(last.start_us) + (output_us - passed);
}

int64_t RecordTimeline::earliest_call_from_output(int64_t output_us) const {
  int64_t passed = 0;
  for (const Interval& i : intervals_) {
    const int64_t length = i.end_us ? *i.end_us - i.start_us : std::numeric_limits<int64_t>::max() / 2;
    if (output_us <= passed + length) return i.start_us + (output_us - passed);
    passed += length;
  }
  return call_from_output(output_us);
}

int64_t RecordTimeline::output_from_call(int64_t call_us) const {
  int64_t passed = 0;
  for (const Interval& i : intervals_) {
    if (call_us < i.start_us) return passed;
    const int64_t end = i.end_us.value_or(std::numeric_limits<int64_t>::max());
    if (call_us < end) return passed + (call_us - i.start_us);
    passed += end - i.start_us;
  }
  return passed;
}

int64_t RecordTimeline::output_duration_us() const {
  int64_t total = 0;
  for (const Interval& i : intervals_) total += i.end_us.value_or(i.start_us) - i.start_us;
  return total;
}

}  // namespace callrec::engine
