#include "callrec/engine/record_timeline.h"

#include <gtest/gtest.h>

namespace callrec::engine {
namespace {

using K = TimelineActionKind;

TEST(RecordTimeline, WithoutActionsRecordsEverythingUntilTheMediaEnds) {
  RecordTimeline t({});
  EXPECT_FALSE(t.end_us());
  EXPECT_EQ(t.call_from_output(5'000'000), 5'000'000);
  t.close_at(60'000'000);
  EXPECT_EQ(t.end_us(), 60'000'000);
  EXPECT_EQ(t.output_duration_us(), 60'000'000);
  EXPECT_TRUE(t.pauses().empty());
}

TEST(RecordTimeline, PausesAreCutFromTheOutput) {
  const RecordTimeline t({{0, K::kStart}, {20'000, K::kPause}, {35'000, K::kResume}, {60'000, K::kStop}});
  EXPECT_EQ(t.end_us(), 60'000'000);
  EXPECT_EQ(t.output_duration_us(), 45'000'000);
  EXPECT_EQ(t.call_from_output(19'999'999), 19'999'999);
  EXPECT_EQ(t.call_from_output(20'000'000), 35'000'000);  // the first instant after the pause
  EXPECT_EQ(t.earliest_call_from_output(20'000'000), 20'000'000);  // the instant the pause began
  EXPECT_EQ(t.earliest_call_from_output(25'000'000), 40'000'000);
  EXPECT_EQ(t.call_from_output(25'000'000), 40'000'000);
  EXPECT_EQ(t.output_from_call(30'000'000), 20'000'000);  // paused instants sit at the cut
  EXPECT_EQ(t.output_from_call(40'000'000), 25'000'000);
  ASSERT_EQ(t.pauses().size(), 1u);
  EXPECT_EQ(t.pauses()[0].start_us, 20'000'000);
  EXPECT_EQ(t.pauses()[0].end_us, 35'000'000);
}

TEST(RecordTimeline, LateStartPauseAtStartAndPauseUntilStop) {
  const RecordTimeline t({{5'000, K::kStart}, {5'000, K::kPause}, {8'000, K::kResume}, {10'000, K::kPause},
                          {12'000, K::kStop}});
  EXPECT_EQ(t.first_start_us(), 5'000'000);
  EXPECT_EQ(t.output_duration_us(), 2'000'000);
  EXPECT_EQ(t.call_from_output(0), 8'000'000);
  EXPECT_EQ(t.earliest_call_from_output(0), 5'000'000);
  ASSERT_EQ(t.pauses().size(), 2u);
  EXPECT_EQ(t.pauses()[1].end_us, 12'000'000);
  EXPECT_EQ(t.output_from_call(11'000'000), 2'000'000);
  EXPECT_EQ(t.end_us(), 12'000'000);
}

TEST(RecordTimeline, PauseUntilTheEndOfMediaIsClosedByIt) {
  RecordTimeline t({{0, K::kStart}, {3'000, K::kPause}});
  EXPECT_FALSE(t.end_us());
  t.close_at(9'000'000);
  EXPECT_EQ(t.end_us(), 9'000'000);
  EXPECT_EQ(t.output_duration_us(), 3'000'000);
  EXPECT_EQ(t.pauses()[0].end_us, 9'000'000);
}

}  // namespace
}  // namespace callrec::engine
