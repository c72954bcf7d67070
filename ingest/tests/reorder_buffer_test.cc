#include "callrec/ingest/reorder_buffer.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

namespace callrec::ingest {
namespace {

struct Out {
  int64_t seq;
  int64_t lost_before;
  uint8_t first_byte;
};

class ReorderBufferTest : public ::testing::Test {
 protected:
  std::function<void(const ReleasedPacket&)> emit() {
    return [this](const ReleasedPacket& r) { out.push_back({r.extended_sequence, r.lost_before, r.bytes[0]}); };
  }
  ReorderBuffer::Insert put(int64_t seq, int64_t at_us) {
    const uint8_t byte = static_cast<uint8_t>(seq);
    return buffer.insert(seq, std::span<const uint8_t>(&byte, 1), at_us, emit());
  }
  std::vector<int64_t> seqs() const {
    std::vector<int64_t> s;
    for (const auto& o : out) s.push_back(o.seq);
    return s;
  }
  ReorderBuffer buffer{8, 50'000};
  std::vector<Out> out;
};

TEST_F(ReorderBufferTest, InOrderPacketsGoStraightThrough) {
  for (int i = 10; i < 20; ++i) EXPECT_EQ(put(i, i * 1000), ReorderBuffer::Insert::kAccepted);
  EXPECT_EQ(seqs(), (std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
  EXPECT_EQ(out[5].first_byte, 15);
  EXPECT_EQ(buffer.held(), 0);
}

TEST_F(ReorderBufferTest, ReorderedPacketsComeOutInOrder) {
  put(1, 0);
  put(3, 1000);
  put(4, 2000);
  EXPECT_EQ(seqs(), (std::vector<int64_t>{1}));
  EXPECT_EQ(buffer.next_deadline_us(), 1000 + 50'000);
  put(2, 3000);
  EXPECT_EQ(seqs(), (std::vector<int64_t>{1, 2, 3, 4}));
  for (const auto& o : out) EXPECT_EQ(o.lost_before, 0);
}

TEST_F(ReorderBufferTest, DuplicatesAndLatePacketsAreDropped) {
  put(1, 0);
  EXPECT_EQ(put(1, 10), ReorderBuffer::Insert::kLate);  // already released
  put(3, 20);
  EXPECT_EQ(put(3, 30), ReorderBuffer::Insert::kDuplicate);  // held
  buffer.poll(100'000, emit());
  EXPECT_EQ(put(2, 100'010), ReorderBuffer::Insert::kLate);  // its gap was given up
  EXPECT_EQ(seqs(), (std::vector<int64_t>{1, 3}));
}

TEST_F(ReorderBufferTest, AGapIsGivenUpAfterTheWait) {
  put(1, 0);
  put(4, 10'000);
  put(5, 20'000);
  buffer.poll(59'999, emit());
  EXPECT_EQ(seqs(), (std::vector<int64_t>{1}));
  buffer.poll(60'000, emit());
  EXPECT_EQ(seqs(), (std::vector<int64_t>{1, 4, 5}));
  EXPECT_EQ(out[1].lost_before, 2);
  EXPECT_EQ(out[2].lost_before, 0);
  EXPECT_FALSE(buffer.next_deadline_us());
}

TEST_F(ReorderBufferTest, AFullBufferReleasesEarly) {
  put(0, 0);
  for (int i = 2; i < 10; ++i) put(i, i);  // 8 held: full
  EXPECT_EQ(seqs(), (std::vector<int64_t>{0, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(out[1].lost_before, 1);
}

TEST_F(ReorderBufferTest, APacketFarAheadFlushesAndSkips) {
  put(0, 0);
  put(2, 1);
  put(100, 2);
  EXPECT_EQ(seqs(), (std::vector<int64_t>{0, 2, 100}));
  EXPECT_EQ(out[1].lost_before, 1);
  EXPECT_EQ(out[2].lost_before, 97);
}

TEST_F(ReorderBufferTest, FlushReleasesEverything) {
  put(0, 0);
  put(3, 1);
  put(5, 2);
  buffer.flush(emit());
  EXPECT_EQ(seqs(), (std::vector<int64_t>{0, 3, 5}));
  EXPECT_EQ(out[1].lost_before, 2);
  EXPECT_EQ(out[2].lost_before, 1);
  buffer.reset();
  EXPECT_EQ(put(1000, 3), ReorderBuffer::Insert::kAccepted);
}

}  // namespace
}  // namespace callrec::ingest
