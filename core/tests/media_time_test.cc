#include "callrec/core/media_time.h"

#include <gtest/gtest.h>

namespace callrec {

TEST(MediaTime, RescalesToNearestTick) {
  const MediaTime t(3217, kMilliseconds);
  EXPECT_EQ(t.rescaled(Rational{1, 16000}).ticks(), 51472);
  EXPECT_EQ(MediaTime(1, Rational{1, 3}).rescaled(kMilliseconds).ticks(), 333);
  EXPECT_EQ(MediaTime(2, Rational{1, 3}).rescaled(kMilliseconds).ticks(), 667);
  EXPECT_EQ(MediaTime(2, Rational{1, 3}).ticks_floor(kMilliseconds), 666);
}

TEST(MediaTime, ComparesExactlyAcrossTimeBases) {
  EXPECT_EQ(MediaTime(1, Rational{1, 8}), MediaTime::from_ms(125));
  EXPECT_LT(MediaTime(1, Rational{1, 3}), MediaTime::from_us(333334));
  EXPECT_GT(MediaTime(1, Rational{1, 3}), MediaTime::from_us(333333));
}

TEST(MediaTime, ArithmeticKeepsLeftTimeBase) {
  const MediaTime sum = MediaTime::from_ms(1000) + MediaTime(8000, Rational{1, 16000});
  EXPECT_EQ(sum.time_base(), kMilliseconds);
  EXPECT_EQ(sum.ticks(), 1500);
  EXPECT_EQ((MediaTime::from_us(10) - MediaTime::from_us(25)).us(), -15);
}

TEST(MediaTime, LongCallsDoNotOverflow) {
  // A 30-day call in microseconds rescaled to 90 kHz and back.
  const MediaTime t = MediaTime::from_us(30LL * 86400 * 1'000'000);
  EXPECT_EQ(t.rescaled(Rational{1, 90000}).rescaled(kMicroseconds), t);
}

}  // namespace callrec
