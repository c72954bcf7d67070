// ParticipantActivity: stretches of output time, split at pauses, clipped to chunks.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "callrec/core/wall_clock.h"
#include "participant_activity.h"

namespace callrec::engine {
namespace {

constexpr int64_t kPeriod = 125'000;
const int64_t kEpoch = parse_iso8601("2026-11-27T10:00:00Z")->unix_us;

// Records `periods` periods from output time `out` and call time `call` in `state`.
void run(ParticipantActivity& a, int64_t& out, int64_t& call, int periods, ParticipantActivity::State state) {
  for (int i = 0; i < periods; ++i) {
    a.record(out, call, kPeriod, state);
    out += kPeriod;
    call += kPeriod;
  }
}

TEST(ParticipantActivity, StretchesJoinWhileOutputAndCallTimeRunOnAndSplitAtAPause) {
  ParticipantActivity a;
  int64_t out = 0, call = 0;
  run(a, out, call, 8, {.present = true, .camera = true});
  run(a, out, call, 8, {.present = true});
  call += 5'000'000;  // a 5 s pause: output time runs on, call time jumps
  run(a, out, call, 8, {.present = true, .camera = true});

  const auto& present = a.spans(ParticipantActivity::kPresent);
  ASSERT_EQ(present.size(), 2u);
  EXPECT_EQ(present[0].out_start_us, 0);
  EXPECT_EQ(present[0].out_end_us, 2'000'000);
  EXPECT_EQ(present[1].out_start_us, 2'000'000);
  EXPECT_EQ(present[1].call_start_us, 7'000'000);
  const auto& camera = a.spans(ParticipantActivity::kCamera);
  ASSERT_EQ(camera.size(), 2u);
  EXPECT_EQ(camera[0].out_end_us, 1'000'000);
  EXPECT_EQ(camera[1].out_start_us, 2'000'000);
  EXPECT_TRUE(a.spans(ParticipantActivity::kScreenShare).empty());
}

TEST(ParticipantActivity, ChunkEntryIsClippedChunkRelativeWithWallClockTimes) {
  ParticipantActivity a;
  int64_t out = 0, call = 0;
  run(a, out, call, 16, {.present = true, .speaking = true});
  call += 3'000'000;  // pause of 3 s at output 2 s
  run(a, out, call, 16, {.present = true});

  // The chunk holds output [1 s, 3 s).
  const nlohmann::json e = a.chunk_entry(1'000'000, 3'000'000, kEpoch);
  ASSERT_TRUE(e.is_object());
  ASSERT_EQ(e["present"].size(), 2u);
  EXPECT_EQ(e["present"][0]["startMs"], 0);
  EXPECT_EQ(e["present"][0]["endMs"], 1000);
  EXPECT_EQ(e["present"][0]["startTime"], "2026-11-27T10:00:01.000Z");
  EXPECT_EQ(e["present"][0]["endTime"], "2026-11-27T10:00:02.000Z");
  EXPECT_EQ(e["present"][1]["startMs"], 1000);
  EXPECT_EQ(e["present"][1]["endMs"], 2000);
  EXPECT_EQ(e["present"][1]["startTime"], "2026-11-27T10:00:05.000Z");  // after the pause
  EXPECT_EQ(e["present"][1]["endTime"], "2026-11-27T10:00:06.000Z");
  ASSERT_EQ(e["speaking"].size(), 1u);
  EXPECT_EQ(e["speaking"][0]["endMs"], 1000);
  EXPECT_TRUE(e["camera"].empty());
  EXPECT_TRUE(e["screenShare"].empty());

  // Nothing in a chunk after the activity: null, so the metadata leaves them out.
  EXPECT_TRUE(a.chunk_entry(10'000'000, 12'000'000, kEpoch).is_null());
  a.forget_before(3'000'000);
  EXPECT_EQ(a.spans(ParticipantActivity::kPresent).size(), 1u);
  EXPECT_TRUE(a.spans(ParticipantActivity::kSpeaking).empty());
}

TEST(ParticipantActivity, VoiceCountsForThePeriodsItOverlaps) {
  ParticipantActivity a;
  // Opus frames of 20 ms from 1.000 s to 1.500 s, one arriving out of order.
  for (int64_t t = 1'000'000; t < 1'500'000; t += 20'000)
    if (t != 1'100'000) a.heard(t, t + 20'000);
  a.heard(1'100'000, 1'120'000);
  a.heard(3'000'000, 3'000'000);  // empty: ignored
  EXPECT_FALSE(a.heard_during(875'000, 1'000'000));
  EXPECT_TRUE(a.heard_during(1'000'000, 1'125'000));
  EXPECT_TRUE(a.heard_during(1'375'000, 1'500'000));
  EXPECT_FALSE(a.heard_during(1'500'000, 1'625'000));
  // Heard voice that ended is forgotten; later voice still counts.
  a.heard(2'000'000, 2'050'000);
  EXPECT_TRUE(a.heard_during(2'000'000, 2'125'000));
  EXPECT_FALSE(a.heard_during(1'000'000, 1'125'000));
}

// Stretches in any order, overlapping several at once, some joining two others: the
// answers match a plain per-millisecond record of what was heard. (Found by the
// live-session fuzzer: merging a stretch with the ones after it used an iterator the
// deque's erase had invalidated.)
TEST(ParticipantActivity, VoiceInAnyOrderIsMergedAsHeard) {
  constexpr int64_t kMs = 1000, kSpanMs = 4000;
  std::mt19937 random(20261203);
  for (int round = 0; round < 50; ++round) {
    ParticipantActivity a;
    std::vector<bool> voiced(kSpanMs, false);
    for (int i = 0; i < 60; ++i) {
      const int64_t start = std::uniform_int_distribution<int64_t>(0, kSpanMs - 1)(random);
      const int64_t length = std::uniform_int_distribution<int64_t>(0, i % 7 == 0 ? 900 : 60)(random);
      const int64_t end = std::min(kSpanMs, start + length);
      a.heard(start * kMs, end * kMs);
      for (int64_t t = start; t < end; ++t) voiced[t] = true;
    }
    for (int64_t from = 0; from < kSpanMs; from += 25) {
      const bool expected = std::any_of(voiced.begin() + from, voiced.begin() + from + 25, [](bool v) { return v; });
      ASSERT_EQ(a.heard_during(from * kMs, (from + 25) * kMs), expected) << "round " << round << ", from " << from << " ms";
    }
  }
}

}  // namespace
}  // namespace callrec::engine
