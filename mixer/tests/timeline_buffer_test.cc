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

}  // namespace
}  // namespace callrec::mixer
