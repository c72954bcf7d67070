#include "callrec/core/wall_clock.h"

#include <gtest/gtest.h>

namespace callrec {

TEST(WallClock, ParsesAndFormatsUtc) {
  const auto t = parse_iso8601("2026-11-27T10:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unix_us, 1795773600LL * 1'000'000);
  EXPECT_EQ(format_iso8601(*t), "2026-11-27T10:00:00.000Z");
  EXPECT_EQ(format_iso8601(WallClock{t->unix_us + 20'250'000}), "2026-11-27T10:00:20.250Z");
}

TEST(WallClock, HonoursFractionsAndOffsets) {
  EXPECT_EQ(parse_iso8601("2026-11-27T11:00:00.5+01:00")->unix_us,
            parse_iso8601("2026-11-27T10:00:00.500Z")->unix_us);
}

TEST(WallClock, RejectsMalformedTimes) {
  for (const char* bad : {"", "2026-11-27", "2026-11-27T10:00:00", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-27T10:00:00Zjunk", "yesterday"})
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
}

}  // namespace callrec
