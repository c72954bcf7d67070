#include "timeline_buffer.h"

#include <gtest/gtest.h>

#include <vector>

namespace callrec::mixer {
namespace {

std::vector<float> gather(const TimelineBuffer& b, int64_t from, int64_t count) {
  std::vector<float> out(static_cast<size_t>(count), -1.0f);
  const auto pieces = b.read(from, count);
  for (int i = 0; i < pieces.count; ++i) {
    const auto& p = pieces.piece[i];
    std::copy(p.samples.begin(), p.samples.end(), out.begin() + p.offset);
  }
  return out;
}

TEST(TimelineBufferTest, WrapsGrowsAndFillsGapsWithSilence) {
  TimelineBuffer b(1024);
  std::vector<float> ramp(700);
  int64_t written = 0;
  float value = 0.0f;
  // Write and consume so that the ring wraps many times, with growth in between.
  for (int round = 0; round < 50; ++round) {
    for (auto& v : ramp) v = value++;
    b.write(written, ramp);
    written += 700;
    if (round % 7 == 0) {
      // A gap of 100 samples (silence), written ahead.
      b.write(written + 100, ramp);
      written += 800;
      value += 0;  // the ramp repeats after the gap
    }
    const auto got = gather(b, b.read_index(), written - b.read_index());
    ASSERT_EQ(static_cast<int64_t>(got.size()), written - b.read_index());
    b.advance_to(written - (round % 3 == 0 ? 3000 : 100));
  }
  EXPECT_GE(b.capacity(), 2048);
  // The last 100 samples are the end of the last ramp.
  const auto tail = gather(b, written - 100, 100);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(tail[static_cast<size_t>(i)], ramp[600 + static_cast<size_t>(i)]);
}

TEST(TimelineBufferTest, GapIsSilenceAndLateSamplesAreDropped) {
  TimelineBuffer b(1024);
  std::vector<float> ones(10, 1.0f);
  b.write(0, ones);
  b.write(20, ones);
  const auto got = gather(b, 0, 30);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], (i < 10 || i >= 20) ? 1.0f : 0.0f) << i;
  b.advance_to(35);
  EXPECT_EQ(b.write(30, ones), 5);
  EXPECT_EQ(b.end(), 40);
  EXPECT_EQ(b.read(30, 10).count, 1);
  EXPECT_EQ(b.read(30, 10).piece[0].offset, 5);
}

// Storage exists only while there is audio to hold: none before the first write, and
// release() of a drained buffer frees it without losing the timeline position.
TEST(TimelineBufferTest, StorageIsAllocatedByWritesAndFreedByRelease) {
  TimelineBuffer b(4096);
  EXPECT_EQ(b.capacity(), 0);
  std::vector<float> ones(100, 1.0f);
  b.write(1000, ones);
  EXPECT_EQ(b.capacity(), 4096);
  b.release();  // still holds samples: kept
  EXPECT_EQ(b.capacity(), 4096);
  b.advance_to(1100);
  b.release();
  EXPECT_EQ(b.capacity(), 0);
  EXPECT_EQ(b.end(), 1100);
  EXPECT_EQ(b.write(1100, ones), 0);
  EXPECT_EQ(b.capacity(), 4096);
  EXPECT_EQ(b.end(), 1200);
  const auto got = gather(b, 1100, 100);
  for (float v : got) EXPECT_EQ(v, 1.0f);
}

// A file whose timestamps jump hours ahead: the samples after each jump are kept aside,
// no silence is stored for the hours between, and each run is in place, exactly at its
// index, when the mix position comes near it.
TEST(TimelineBufferTest, AJumpHoursAheadStoresNoSilence) {
  TimelineBuffer b(1024);
  const std::vector<float> ones(1000, 1.0f);
  const std::vector<float> twos(1000, 2.0f);
  b.write(0, ones);
  const int64_t jump = int64_t{9} * 3600 * 16000;  // nine hours of 16 kHz audio
  EXPECT_EQ(b.write(jump, twos), 0);
  EXPECT_EQ(b.write(jump + 1000, twos), 0);  // right after: the same run
  EXPECT_EQ(b.write(2 * jump, ones), 0);     // a second jump
  EXPECT_EQ(b.end(), 2 * jump + 1000);
  EXPECT_LE(b.capacity(), 1024) << "silence stored";
  const auto start = gather(b, 0, 2000);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(start[static_cast<size_t>(i)], i < 1000 ? 1.0f : -1.0f) << i;

  b.advance_to(jump - 5000);  // the mix position nears the first run: it joins the ring
  EXPECT_EQ(b.end(), 2 * jump + 1000);
  const auto first = gather(b, jump - 5000, 7000);
  for (int i = 0; i < 7000; ++i) ASSERT_EQ(first[static_cast<size_t>(i)], i < 5000 ? 0.0f : 2.0f) << i;
  EXPECT_LE(b.capacity(), 8192);

  b.advance_to(2 * jump - 100);
  const auto second = gather(b, 2 * jump - 100, 1100);
  for (int i = 0; i < 1100; ++i) ASSERT_EQ(second[static_cast<size_t>(i)], i < 100 ? 0.0f : 1.0f) << i;
  EXPECT_LE(b.capacity(), 8192);
  b.advance_to(2 * jump + 1000);
  EXPECT_TRUE(b.empty());
}

// Up to kMaxStoredSilence, a gap is stored as silence in the ring as before.
TEST(TimelineBufferTest, AGapUpToTheLimitIsStoredSilence) {
  TimelineBuffer b(1024);
  const std::vector<float> ones(10, 1.0f);
  b.write(0, ones);
  b.write(10 + TimelineBuffer::kMaxStoredSilence, ones);
  EXPECT_GE(b.capacity(), TimelineBuffer::kMaxStoredSilence);
  const auto got = gather(b, 0, 20 + TimelineBuffer::kMaxStoredSilence);
  EXPECT_EQ(got.front(), 1.0f);
  EXPECT_EQ(got[5000], 0.0f);
  EXPECT_EQ(got.back(), 1.0f);
}

}  // namespace
}  // namespace callrec::mixer
