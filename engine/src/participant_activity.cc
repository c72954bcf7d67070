#include "participant_activity.h"

#include <algorithm>

#include "callrec/core/wall_clock.h"

namespace callrec::engine {

const char* ParticipantActivity::kind_name(Kind kind) {
  switch (kind) {
    case kPresent:
      return "present";
    case kCamera:
      return "camera";
    case kScreenShare:
      return "screenShare";
    case kSpeaking:
      return "speaking";
    case kKindCount:
      break;
  }
  return "?";
}

void ParticipantActivity::heard(int64_t start_call_us, int64_t end_call_us) {
  if (end_call_us <= start_call_us) return;
  // Keeps the list sorted and disjoint. Voice mostly arrives in order, so the search
  // starts from the back. Indices, not iterators: a deque's insert and erase in the
  // middle invalidate every iterator.
  size_t i = voice_.size();
  while (i > 0 && voice_[i - 1].first > start_call_us) --i;
  if (i > 0 && voice_[i - 1].second >= start_call_us) {
    --i;  // joins the stretch before it
    voice_[i].second = std::max(voice_[i].second, end_call_us);
  } else {
    voice_.insert(voice_.begin() + static_cast<std::ptrdiff_t>(i), {start_call_us, end_call_us});
  }
  size_t joined = i + 1;  // the stretches after it that it now reaches
  while (joined < voice_.size() && voice_[joined].first <= voice_[i].second) {
    voice_[i].second = std::max(voice_[i].second, voice_[joined].second);
    ++joined;
  }
  voice_.erase(voice_.begin() + static_cast<std::ptrdiff_t>(i + 1), voice_.begin() + static_cast<std::ptrdiff_t>(joined));
}

bool ParticipantActivity::heard_during(int64_t from_call_us, int64_t to_call_us) {
  while (!voice_.empty() && voice_.front().second <= from_call_us) voice_.pop_front();
  for (const auto& [start, end] : voice_) {
    if (start >= to_call_us) break;
    if (end > from_call_us) return true;
  }
  return false;
}

void ParticipantActivity::extend(Kind kind, int64_t out_us, int64_t call_us, int64_t period_us) {
  std::vector<Span>& spans = spans_[kind];
  if (!spans.empty()) {
    Span& last = spans.back();
    // Continues the last stretch only when both output and call time run on from it.
    if (last.out_end_us == out_us && last.call_start_us + (out_us - last.out_start_us) == call_us) {
      last.out_end_us = out_us + period_us;
      return;
    }
  }
  spans.push_back(Span{out_us, out_us + period_us, call_us});
}

void ParticipantActivity::record(int64_t out_us, int64_t call_us, int64_t period_us, const State& state) {
  if (state.present) extend(kPresent, out_us, call_us, period_us);
  if (state.camera) extend(kCamera, out_us, call_us, period_us);
  if (state.screen_share) extend(kScreenShare, out_us, call_us, period_us);
  if (state.speaking) extend(kSpeaking, out_us, call_us, period_us);
}

nlohmann::json ParticipantActivity::chunk_entry(int64_t start_out_us, int64_t end_out_us, int64_t epoch_us) const {
  nlohmann::json entry = nlohmann::json::object();
  bool any = false;
  for (int k = 0; k < kKindCount; ++k) {
    nlohmann::json list = nlohmann::json::array();
    for (const Span& s : spans_[k]) {
      const int64_t a = std::max(s.out_start_us, start_out_us);
      const int64_t b = std::min(s.out_end_us, end_out_us);
      if (a >= b) continue;
      const int64_t call_a = s.call_start_us + (a - s.out_start_us);
      const int64_t call_b = call_a + (b - a);
      list.push_back({{"startMs", (a - start_out_us) / 1000},
                      {"endMs", (b - start_out_us) / 1000},
                      {"startTime", format_iso8601(WallClock{epoch_us + call_a})},
                      {"endTime", format_iso8601(WallClock{epoch_us + call_b})}});
    }
    any = any || !list.empty();
    entry[kind_name(static_cast<Kind>(k))] = std::move(list);
  }
  return any ? entry : nlohmann::json();
}

void ParticipantActivity::forget_before(int64_t out_us) {
  for (std::vector<Span>& spans : spans_) {
    const auto keep = std::find_if(spans.begin(), spans.end(), [&](const Span& s) { return s.out_end_us > out_us; });
    spans.erase(spans.begin(), keep);
  }
}

}  // namespace callrec::engine
