#include "recording_story.h"

#include <algorithm>
#include <set>

#include "callrec/core/wall_clock.h"

namespace callrec::report {
namespace {

// Milliseconds within a chunk: clamped to two days before any arithmetic.
std::optional<int64_t> ms_field(const nlohmann::json& j, const char* key) {
  constexpr int64_t kMaxMs = 48LL * 3600 * 1000;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  if (it->is_number_float()) return static_cast<int64_t>(std::clamp(it->get<double>(), -1.0, double(kMaxMs)));
  if (it->is_number_unsigned()) return static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), kMaxMs));
  return std::clamp<int64_t>(it->get<int64_t>(), -1, kMaxMs);
}

std::optional<int64_t> wall_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  const auto t = parse_iso8601(it->get<std::string>());
  return t ? std::optional(t->unix_us) : std::nullopt;
}

ParticipantStory& participant(RecordingStory& story, const std::string& id) {
  for (ParticipantStory& p : story.participants)
    if (p.participant_id == id) return p;
  story.participants.push_back(ParticipantStory{id, "", {}, false});
  return story.participants.back();
}

void add_span(std::vector<ActivitySpan>& spans, ActivitySpan s) {
  if (s.end_ms <= s.start_ms) return;
  if (!spans.empty() && spans.back().end_ms == s.start_ms) {
    spans.back().end_ms = s.end_ms;
    spans.back().end_wall_us = s.end_wall_us;
    return;
  }
  spans.push_back(s);
}

// The first ISO 8601 time written in `text` ("2026-11-27T10:00:07.125Z", or with an
// offset), if any.
std::optional<int64_t> time_in_text(const std::string& text) {
  auto digits = [&](size_t at, size_t n) {
    if (at + n > text.size()) return false;
    for (size_t i = at; i < at + n; ++i)
      if (text[i] < '0' || text[i] > '9') return false;
    return true;
  };
  auto is = [&](size_t at, char c) { return at < text.size() && text[at] == c; };
  for (size_t a = 0; a + 19 <= text.size(); ++a) {
    if (!(digits(a, 4) && is(a + 4, '-') && digits(a + 5, 2) && is(a + 7, '-') && digits(a + 8, 2) &&
          is(a + 10, 'T') && digits(a + 11, 2) && is(a + 13, ':') && digits(a + 14, 2) && is(a + 16, ':') &&
          digits(a + 17, 2)))
      continue;
    size_t end = a + 19;
    if (is(end, '.')) {
      ++end;
      while (digits(end, 1)) ++end;
    }
    if (is(end, 'Z')) {
      ++end;
    } else if ((is(end, '+') || is(end, '-')) && digits(end + 1, 2) && is(end + 3, ':') && digits(end + 4, 2)) {
      end += 6;
    } else {
      continue;
    }
    if (const auto t = parse_iso8601(std::string_view(text).substr(a, end - a))) return t->unix_us;
  }
  return std::nullopt;
}

// A problem entry as text, with the time it names: a string, or an object with a
// message and a time field (whichever names the live ingest uses).
std::pair<std::string, std::optional<int64_t>> problem_entry(const nlohmann::json& e) {
  if (e.is_string()) {
    const std::string text = e.get<std::string>();
    return {text, time_in_text(text)};
  }
  if (!e.is_object()) return {e.dump(), std::nullopt};
  std::string text;
  for (const char* key : {"message", "text", "problem", "description"})
    if (e.contains(key) && e[key].is_string()) {
      text = e[key].get<std::string>();
      break;
    }
  if (text.empty()) text = e.dump();
  std::optional<int64_t> at;
  for (const auto& [key, value] : e.items())
    if (!at && value.is_string() && key != "message") at = time_in_text(value.get<std::string>());
  if (!at) at = time_in_text(text);
  return {text, at};
}

}  // namespace

const char* activity_field(ActivityKind kind) {
  switch (kind) {
    case kPresent: return "present";
    case kCamera: return "camera";
    case kScreenShare: return "screenShare";
    case kSpeaking: return "speaking";
    case kActivityKinds: break;
  }
  return "?";
}

std::optional<int64_t> recording_ms_at_wall(const RecordingListing& listing, int64_t wall_us) {
  for (const ChunkListing& c : listing.chunks) {
    if (!c.start_wall_us || wall_us < *c.start_wall_us) continue;
    int64_t media_us = wall_us - *c.start_wall_us;  // wall time since the chunk began, less pauses
    for (const auto& [start, length] : c.pauses_wall_us) {
      if (start >= wall_us) break;
      media_us -= std::min(length, wall_us - start);
    }
    if (media_us <= c.duration_ms * 1000) return c.start_ms + media_us / 1000;
  }
  return std::nullopt;
}

RecordingStory read_recording_story(const RecordingListing& listing) {
  RecordingStory story;
  std::set<std::string> problems_seen;
  std::map<std::string, std::map<std::string, int64_t>> previous;  // counters after the chunk before
  for (const ChunkListing& c : listing.chunks) {
    const nlohmann::json& m = c.metadata;
    const int64_t base = c.start_ms;
    // Activity, or presence from the participant list.
    const auto activity = m.find("participantActivity");
    if (activity != m.end() && activity->is_array()) {
      for (const nlohmann::json& e : *activity) {
        if (!e.is_object() || !e.contains("participantId") || !e["participantId"].is_string()) continue;
        ParticipantStory& p = participant(story, e["participantId"].get<std::string>());
        if (e.contains("displayName") && e["displayName"].is_string()) p.display_name = e["displayName"];
        for (int k = 0; k < kActivityKinds; ++k) {
          const auto list = e.find(activity_field(static_cast<ActivityKind>(k)));
          if (list == e.end() || !list->is_array()) continue;
          for (const nlohmann::json& s : *list) {
            const auto a = ms_field(s, "startMs"), b = ms_field(s, "endMs");
            if (!a || !b) continue;
            const int64_t start = base + std::clamp<int64_t>(*a, 0, c.duration_ms);
            const int64_t end = base + std::clamp<int64_t>(*b, 0, c.duration_ms);
            add_span(p.spans[k], ActivitySpan{start, end, wall_field(s, "startTime"), wall_field(s, "endTime")});
          }
        }
      }
    } else if (m.contains("participants") && m["participants"].is_array()) {
      for (const nlohmann::json& e : m["participants"]) {
        if (!e.is_object() || !e.contains("participantId") || !e["participantId"].is_string()) continue;
        ParticipantStory& p = participant(story, e["participantId"].get<std::string>());
        p.presence_from_participant_list = true;
        add_span(p.spans[kPresent], ActivitySpan{base, base + c.duration_ms, c.wall_us_at(0), c.wall_us_at(c.duration_ms)});
      }
    }
    // Pauses, placed at the recording time where media resumes.
    for (const auto& [start, length] : c.pauses_wall_us) {
      int64_t before_us = start - c.start_wall_us.value_or(start);
      for (const auto& [other, other_length] : c.pauses_wall_us)
        if (other < start) before_us -= other_length;
      story.pauses.push_back(PauseMark{base + std::clamp<int64_t>(before_us / 1000, 0, c.duration_ms), start,
                                       length / 1000, c.index});
    }
    // Media problems: each listed from the chunk where it first appears (the lists are
    // cumulative).
    const auto problems = m.find("mediaProblems");
    if (problems != m.end() && problems->is_array()) {
      for (const nlohmann::json& e : *problems) {
        auto [text, wall] = problem_entry(e);
        if (!problems_seen.insert(text).second) continue;
        story.problems.push_back(ProblemMark{text, wall ? recording_ms_at_wall(listing, *wall) : std::nullopt, wall,
                                             c.index});
      }
    }
    // Counters: cumulative from the start of the recording; what grew in this chunk.
    const auto stats = m.find("participantMediaStats");
    if (stats != m.end() && stats->is_array()) {
      for (const nlohmann::json& e : *stats) {
        if (!e.is_object() || !e.contains("participantId") || !e["participantId"].is_string()) continue;
        const std::string id = e["participantId"];
        for (const auto& [key, value] : e.items()) {
          if (!value.is_number_integer()) continue;
          // Counters are far below 2^62; a value beyond is clamped, not overflowed.
          const int64_t total = value.is_number_unsigned()
                                    ? static_cast<int64_t>(std::min<uint64_t>(value.get<uint64_t>(), 1ULL << 62))
                                    : std::clamp<int64_t>(value.get<int64_t>(), -(1LL << 62), 1LL << 62);
          const int64_t before = previous[id][key];
          story.stat_totals[id][key] = total;
          if (total != before) story.stat_changes.push_back(StatChange{id, key, c.index, total - before, total});
          previous[id][key] = total;
        }
      }
    }
  }
  return story;
}

}  // namespace callrec::report
