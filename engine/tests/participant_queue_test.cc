#include "participant_queue.h"

#include <gtest/gtest.h>

#include <vector>

#include "media_problems.h"

namespace callrec::engine {
namespace {

MediaTime ms(int64_t v) { return MediaTime::from_ms(v); }

ParticipantQueue::Limits limits(int capacity) {
  return {.capacity = capacity, .max_ahead = ms(1000), .max_behind = ms(1200), .rtp = RtpClockBounds{}};
}

// Pushes an Opus item placed at `at_ms` (call time), pushed at `now_ms`.
Status push_at(ParticipantQueue& q, int64_t at_ms, int64_t now_ms, uint8_t tag = 0) {
  return q.push(ms(now_ms), [&](MediaItem& item) {
    item.kind = MediaKind::kOpus;
    item.at = ms(at_ms);
    item.bytes.assign(1, tag);
    item.payload_bytes = 1;
    return Status();
  });
}

std::vector<int64_t> release_ms(ParticipantQueue& q, int64_t end_ms, bool inclusive) {
  std::vector<int64_t> out;
  q.collect();
  q.release(ms(end_ms), inclusive, [&](MediaItem& item) { out.push_back(item.at.ms()); });
  return out;
}

TEST(ParticipantQueue, ReleasesInCallTimeOrderUpToTheEnd) {
  ParticipantQueue q("8:acs:ada", limits(16), nullptr);
  for (const int64_t at : {40, 0, 20, 100, 60, 60, 80}) ASSERT_TRUE(push_at(q, at, 50));
  EXPECT_EQ(release_ms(q, 60, /*inclusive=*/false), (std::vector<int64_t>{0, 20, 40}));
  EXPECT_EQ(release_ms(q, 60, /*inclusive=*/true), (std::vector<int64_t>{60, 60}));
  ASSERT_TRUE(push_at(q, 70, 60));  // late for what was released, early for the rest
  EXPECT_EQ(release_ms(q, 1000, true), (std::vector<int64_t>{70, 80, 100}));
  EXPECT_EQ(q.waiting(), 0u);
}

TEST(ParticipantQueue, SameTimePushesKeepTheirOrder) {
  ParticipantQueue q("8:acs:ada", limits(16), nullptr);
  for (uint8_t tag = 0; tag < 5; ++tag) ASSERT_TRUE(push_at(q, 10, 0, tag));
  std::vector<int> tags;
  q.collect();
  q.release(ms(10), true, [&](MediaItem& item) { tags.push_back(item.bytes[0]); });
  EXPECT_EQ(tags, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(ParticipantQueue, FullQueueDropsAndCountsUntilSlotsComeBack) {
  ParticipantQueue q("8:acs:ada", limits(4), nullptr);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(push_at(q, i, 0));
  const Status s = push_at(q, 5, 0);
  EXPECT_EQ(s.code(), SessionErrc::kQueueFull);
  EXPECT_NE(s.message().find("8:acs:ada"), std::string::npos);
  EXPECT_EQ(q.counters().dropped_queue_full.load(), 1);
  EXPECT_EQ(release_ms(q, 10, true).size(), 4u);
  EXPECT_TRUE(push_at(q, 6, 0));
}

// Media placed far ahead would sit in the queue until its time: it is refused instead,
// however much of it comes, and the participant's next media still gets in.
TEST(ParticipantQueue, MediaFarAheadNeverFillsTheQueue) {
  MediaProblemLog log;
  ParticipantQueue q("8:acs:ada", limits(8), &log);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(push_at(q, 5000 + i, 100).code(), SessionErrc::kDroppedTimestamp);
  EXPECT_EQ(push_at(q, 1800, 900).code(), SessionErrc::kOk) << "0.9 s ahead: inside the window";
  EXPECT_EQ(push_at(q, -1000, 300).code(), SessionErrc::kDroppedTimestamp) << "1.3 s behind";
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(push_at(q, 100 + i, 100));
  EXPECT_EQ(q.counters().dropped_timestamp.load(), 1001);
  EXPECT_EQ(q.counters().dropped_queue_full.load(), 0);
  const std::vector<std::string> lines = log.take();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("ahead of the call's clock (1000 times"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("behind the call's clock"), std::string::npos) << lines[1];
}

TEST(ParticipantQueue, AFillThatFailsGivesItsSlotBack) {
  ParticipantQueue q("8:acs:ada", limits(1), nullptr);
  const Status refused = q.push(ms(0), [](MediaItem&) { return Status(SessionErrc::kInvalidArgument, "no"); });
  EXPECT_EQ(refused.code(), SessionErrc::kInvalidArgument);
  EXPECT_TRUE(push_at(q, 0, 0));
}

Status push_rtp(ParticipantQueue& q, uint32_t rtp, int64_t now_ms) {
  return q.push_rtp(RtpStream::kAudio, rtp, ms(now_ms), [](MediaItem& item) {
    item.kind = MediaKind::kOpus;
    item.bytes.assign(1, 0);
    item.payload_bytes = 1;
    return Status();
  });
}

// A participant who leaves and joins again with a new client: its RTP timestamps start
// from a new random base. reset_rtp() (the join) anchors them afresh at once.
TEST(ParticipantQueue, RejoinStartsFreshRtpClocks) {
  ParticipantQueue q("8:acs:bob", limits(64), nullptr);
  for (uint32_t k = 0; k < 10; ++k) ASSERT_TRUE(push_rtp(q, 1000 + 960 * k, 20 * k));
  q.reset_rtp();
  for (uint32_t k = 0; k < 10; ++k) ASSERT_TRUE(push_rtp(q, 0x9ABCDEF0u + 960 * k, 30'000 + 20 * k));
  const std::vector<int64_t> placed = release_ms(q, 60'000, true);
  ASSERT_EQ(placed.size(), 20u);
  EXPECT_EQ(placed[10], 30'000);
  EXPECT_EQ(placed[19], 30'180);
}

// Without the rejoin (the sender restarted on its own), the jump is confirmed by the
// packets after it: a tenth of a second is lost, then the stream is placed again.
TEST(ParticipantQueue, SenderRestartIsPlacedAgainOnceConfirmed) {
  MediaProblemLog log;
  ParticipantQueue q("8:acs:bob", limits(64), &log);
  for (uint32_t k = 0; k < 10; ++k) ASSERT_TRUE(push_rtp(q, 1000 + 960 * k, 20 * k));
  int dropped = 0;
  for (uint32_t k = 0; k < 10; ++k) {
    const Status s = push_rtp(q, 0x9ABCDEF0u + 960 * k, 30'000 + 20 * k);
    if (!s) {
      EXPECT_EQ(s.code(), SessionErrc::kDroppedTimestamp);
      ++dropped;
    }
  }
  EXPECT_EQ(dropped, 5);  // 100 ms of 20 ms packets
  EXPECT_EQ(q.counters().rtp_reanchors.load(), 1);
  const std::vector<int64_t> placed = release_ms(q, 60'000, true);
  ASSERT_EQ(placed.size(), 15u);
  EXPECT_EQ(placed[10], 30'100);
  const std::vector<std::string> lines = log.take();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("placed afresh"), std::string::npos) << lines[1];
}

}  // namespace
}  // namespace callrec::engine
