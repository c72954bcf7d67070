#include "callrec/ingest/sequence_unwrapper.h"

#include <gtest/gtest.h>

#include <vector>

namespace callrec::ingest {
namespace {

// Table tests in the manner of mediasoup's TestSeqManager: each row feeds a sequence of
// raw values and expects their extended values.
TEST(SequenceUnwrapperTest, Table) {
  struct Row {
    const char* what;
    std::vector<uint16_t> in;
    std::vector<int64_t> out;
  };
  const std::vector<Row> rows = {
      {"in order", {0, 1, 2, 3}, {0, 1, 2, 3}},
      {"wraps forward", {65534, 65535, 0, 1}, {65534, 65535, 65536, 65537}},
      {"reordered across the wrap", {65535, 1, 0, 2}, {65535, 65537, 65536, 65538}},
      {"old packet before the wrap", {0, 65535, 1}, {0, -1, 1}},
      {"large forward gap", {100, 30000, 60000, 10}, {100, 30000, 60000, 65546}},
      {"half range ahead is behind", {0, 32768}, {0, -32768}},
      {"just under half ahead", {0, 32767}, {0, 32767}},
      {"two wraps", {60000, 10000, 40000, 5000}, {60000, 75536, 105536, 136072}},
      {"duplicates", {5, 5, 5}, {5, 5, 5}},
  };
  for (const Row& r : rows) {
    SequenceUnwrapper u;
    for (size_t i = 0; i < r.in.size(); ++i) EXPECT_EQ(u.unwrap(r.in[i]), r.out[i]) << r.what << " #" << i;
  }
}

TEST(SequenceUnwrapperTest, TimestampsWrapAt32Bits) {
  TimestampUnwrapper u;
  EXPECT_EQ(u.unwrap(0xffffff00u), 0xffffff00LL);
  EXPECT_EQ(u.unwrap(0x00000100u), 0x100000100LL);
  EXPECT_EQ(u.peek(0xfffffff0u), 0xfffffff0LL);
  EXPECT_EQ(u.unwrap(0x7fffffffu), 0x17fffffffLL);
  EXPECT_EQ(u.unwrap(0x00000000u), 0x100000000LL);
}

TEST(SequenceUnwrapperTest, PeekDoesNotMoveTheReference) {
  SequenceUnwrapper u;
  u.unwrap(65000);
  EXPECT_EQ(u.peek(100), 65636);
  EXPECT_EQ(u.peek(64000), 64000);
  EXPECT_EQ(u.last(), 65000);
  u.reset();
  EXPECT_FALSE(u.last());
  EXPECT_EQ(u.unwrap(7), 7);
}

}  // namespace
}  // namespace callrec::ingest
