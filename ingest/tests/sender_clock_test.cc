#include "callrec/ingest/sender_clock.h"

#include <gtest/gtest.h>

#include <cmath>

namespace callrec::ingest {
namespace {

constexpr int64_t kNtpBase = 3'900'000'000'000'000;

TEST(SenderClockTest, OneReportMapsAtTheNominalRate) {
  SenderClock c;
  EXPECT_FALSE(c.has_mapping());
  c.on_sender_report(kNtpBase, 1'000'000);
  ASSERT_TRUE(c.has_mapping());
  EXPECT_EQ(c.to_ntp_us(1'000'000), kNtpBase);
  EXPECT_EQ(c.to_ntp_us(3'500'000), kNtpBase + 2'500'000);
}

TEST(SenderClockTest, FitsASkewedRtpClockOverAnHour) {
  // The sender's RTP clock runs 100 ppm fast against its wall clock: after an hour of
  // media its timestamps are 360 ms ahead of nominal.
  SenderClock c;
  const double rate = 1.0001;
  for (int s = 0; s <= 3600; s += 5) {
    const int64_t ntp = kNtpBase + int64_t{s} * 1'000'000;
    c.on_sender_report(ntp, std::llround(s * 1e6 * rate));
  }
  EXPECT_EQ(c.reports_in_fit(), SenderClock::kMaxReports);
  EXPECT_NEAR(c.rate(), rate, 1e-6);
  // 30 s after the last report, the mapping is still within a millisecond.
  const int64_t media = std::llround(3630 * 1e6 * rate);
  EXPECT_NEAR(static_cast<double>(c.to_ntp_us(media) - kNtpBase), 3630e6, 1000.0);
  EXPECT_EQ(c.resets(), 0);
}

TEST(SenderClockTest, ARefitMovesTheMappingGradually) {
  SenderClock c;
  for (int s = 0; s <= 10; s += 5) c.on_sender_report(kNtpBase + s * 1'000'000LL, s * 1'000'000LL);
  const int64_t before = c.to_ntp_us(15'000'000);
  EXPECT_EQ(before, kNtpBase + 15'000'000);
  // A report 10 ms off the line (the sender's wall clock was slewed).
  c.on_sender_report(kNtpBase + 15'010'000, 15'000'000);
  // At the report the old mapping still holds...
  EXPECT_NEAR(static_cast<double>(c.to_ntp_us(15'000'000)), static_cast<double>(before), 1.0);
  // ...and it moves to the new fit by at most 1 ms per second of media.
  int64_t last = c.to_ntp_us(15'000'000);
  for (int64_t m = 15'100'000; m <= 40'000'000; m += 100'000) {
    const int64_t now = c.to_ntp_us(m);
    // The new slope (+600 ppm) plus the correction (1000 ppm at most).
    EXPECT_NEAR(static_cast<double>(now - last), 100'000.0, 200.0) << m;
    last = now;
  }
  // Long after, the mapping is the new fit: a straight line again.
  const int64_t a = c.to_ntp_us(30'000'000), b = c.to_ntp_us(40'000'000), d = c.to_ntp_us(50'000'000);
  EXPECT_NEAR(static_cast<double>((d - b) - (b - a)), 0.0, 2.0);
  EXPECT_GT(c.to_ntp_us(30'000'000), kNtpBase + 30'000'000);  // moved towards the late report
}

TEST(SenderClockTest, AJumpStartsAFreshFitAndRepeatsAreIgnored) {
  SenderClock c;
  c.on_sender_report(kNtpBase, 0);
  c.on_sender_report(kNtpBase + 5'000'000, 5'000'000);
  c.on_sender_report(kNtpBase + 5'000'000, 5'000'000);  // repeated
  EXPECT_EQ(c.reports_in_fit(), 2);
  c.on_sender_report(kNtpBase + 70'000'000, 10'000'000);  // the wall clock stepped a minute
  EXPECT_EQ(c.resets(), 1);
  EXPECT_EQ(c.reports_in_fit(), 1);
  EXPECT_EQ(c.to_ntp_us(11'000'000), kNtpBase + 71'000'000);
}

}  // namespace
}  // namespace callrec::ingest
