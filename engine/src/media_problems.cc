#include "media_problems.h"

#include <cinttypes>
#include <cstdio>

namespace callrec::engine {

std::string format_call_time(MediaTime t) {
  const int64_t ms = t.ticks_floor(kMilliseconds);
  char text[48];
  std::snprintf(text, sizeof text, "%s%" PRId64 ".%03" PRId64 " s", ms < 0 ? "-" : "", (ms < 0 ? -ms : ms) / 1000,
                (ms < 0 ? -ms : ms) % 1000);
  return text;
}

void MediaProblemLog::note(std::string_view participant_id, std::string_view what, MediaTime at) {
  const std::lock_guard lock(mu_);
  auto key = std::make_pair(std::string(participant_id), std::string(what));
  if (const auto it = index_.find(key); it != index_.end()) {
    Entry& e = entries_[it->second].second;
    ++e.count;
    e.last = at;
    return;
  }
  if (entries_.size() >= kMaxKinds) {
    ++overflow_;
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), Entry{at, at, 1});
}

std::vector<std::string> MediaProblemLog::take(std::optional<WallClock> call_epoch) {
  const std::lock_guard lock(mu_);
  std::vector<std::string> lines;
  lines.reserve(entries_.size() + 1);
  for (const auto& [key, e] : entries_) {
    std::string line = "participant \"" + key.first + "\" at " + format_call_time(e.first);
    if (call_epoch) line += " (" + format_iso8601(WallClock{call_epoch->unix_us + e.first.us()}) + ")";
    line += ": " + key.second;
    if (e.count > 1) line += " (" + std::to_string(e.count) + " times, last at " + format_call_time(e.last) + ")";
    lines.push_back(std::move(line));
  }
  if (overflow_ > 0) lines.push_back(std::to_string(overflow_) + " more media problems of other kinds");
  entries_.clear();
  index_.clear();
  overflow_ = 0;
  return lines;
}

}  // namespace callrec::engine
