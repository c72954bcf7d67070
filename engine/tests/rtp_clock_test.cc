// RtpClock, tested with tables as mediasoup tests its sequence numbers: each row is one
// packet (its RTP timestamp and arrival) and where it must land.
#include "rtp_clock.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace callrec::engine {
namespace {

constexpr RtpClockBounds kBounds{.max_ahead = MediaTime::from_ms(1000),
                                 .max_behind = MediaTime::from_ms(1200),
                                 .confirm_after = MediaTime::from_ms(100),
                                 .tolerance = MediaTime::from_ms(200)};

struct Row {
  uint32_t rtp;
  int64_t arrival_us;
  std::optional<int64_t> placed_us;  // nullopt: dropped
  bool reanchored = false;
};

struct Table {
  std::string name;
  int rate_hz;
  std::vector<Row> rows;
  // Before this row (index), reset() is called: a rejoin.
  std::optional<size_t> reset_before;
};

constexpr uint32_t kNearWrap = 0xFFFFFFFFu - 959u;  // 960 ticks before 2^32

std::vector<Table> tables() {
  return {
      {"FirstPacketAnchorsAtItsArrival", 48000, {{123456, 5'000'000, 5'000'000}, {124416, 5'021'000, 5'020'000}}},
      {"WrapsAroundTwoToTheThirtyTwo",
       48000,
       {{kNearWrap, 1'000'000, 1'000'000},
        {0, 1'020'500, 1'020'000},
        {960, 1'040'000, 1'040'000},
        {1920, 1'061'000, 1'060'000}}},
      {"WrapsBackwardsForAPacketReorderedAcrossTheWrap",
       48000,
       {{kNearWrap - 960, 1'000'000, 1'000'000},
        {960, 1'050'000, 1'060'000},
        {kNearWrap, 1'051'000, 1'020'000},
        {0, 1'052'000, 1'040'000}}},
      {"ReorderedWithinTheWindowKeepItsPlace",
       90000,
       {{0, 0, 0}, {6000, 80'000, 66'667}, {3000, 81'000, 33'333}, {9000, 100'000, 100'000}}},
      {"DuplicatesLandOnTheSamePlace", 48000, {{0, 0, 0}, {960, 20'000, 20'000}, {960, 25'000, 20'000}}},
      {"SilenceGapWithTimestampsFollowingTheClock",  // DTX: 10 s without packets
       48000,
       {{0, 0, 0}, {960, 20'000, 20'000}, {960 + 480000, 10'020'000, 10'020'000}}},
      {"JumpWithinTheBoundsIsTakenAsIs",  // a sender that skipped 500 ms of timestamps
       48000,
       {{0, 0, 0}, {24000 + 960, 20'000, 520'000}, {24000 + 1920, 40'000, 540'000}}},
      {"SenderRestartAheadIsReanchoredOnceConfirmed",
       48000,
       {{0, 0, 0},
        {960, 20'000, 20'000},
        {0x40000000, 40'000, std::nullopt},          // far ahead: a candidate
        {0x40000000 + 960, 60'000, std::nullopt},    // consistent, but only 20 ms on
        {0x40000000 + 4800, 140'000, 140'000, true},  // 100 ms on: the new anchor holds
        {0x40000000 + 5760, 160'000, 160'000}}},
      {"SenderRestartBehindIsReanchoredOnceConfirmed",
       48000,
       {{0x70000000, 0, 0},
        {0x70000000 + 960, 20'000, 20'000},
        {5000, 5'000'000, std::nullopt},  // 7.6 h behind: a candidate
        {5000 + 7200, 5'150'000, 5'150'000, true},
        {5000 + 8160, 5'170'000, 5'170'000}}},
      {"OneCorruptTimestampNeverMovesTheStream",
       48000,
       {{0, 0, 0},
        {960, 20'000, 20'000},
        {0xDEADBEEF, 40'000, std::nullopt},
        {2880, 60'000, 60'000},
        {3840, 80'000, 80'000}}},
      {"TwoUnrelatedCorruptTimestampsConfirmNothing",
       48000,
       {{0, 0, 0},
        {0x10000000, 200'000, std::nullopt},
        {0x50000000, 400'000, std::nullopt},
        {19200, 400'000, 400'000}}},
      {"PacketsHeldUpByAStallAreNotTakenForANewBase",
       48000,
       {{0, 0, 0},
        {960, 20'000, 20'000},
        // 2 s without packets, then the ones sent meanwhile arrive at once.
        {1920, 2'040'000, std::nullopt},
        {2880, 2'041'000, std::nullopt},
        {48000, 2'042'000, 1'000'000},  // within 1.2 s again: the old anchor still holds
        {96000, 2'043'000, 2'000'000},
        {97920, 2'045'000, 2'040'000}}},
      {"FarAheadFirstOfABurstStillConfirmsByConsistency",
       90000,
       {{0, 0, 0}, {0x20000000, 33'000, std::nullopt}, {0x20000000 + 9000, 135'000, 133'000, true}}},
      {"ResetAnchorsTheNextPacketAfresh",  // a participant who left and joined again
       48000,
       {{1000, 0, 0}, {1960, 20'000, 20'000}, {0x7777, 30'000'000, 30'000'000}, {0x7777 + 960, 30'020'000, 30'020'000}},
       2},
  };
}

void PrintTo(const Table& t, std::ostream* os) { *os << t.name; }

class RtpClockTable : public ::testing::TestWithParam<Table> {};

TEST_P(RtpClockTable, PlacesEveryPacketAsTheRowSays) {
  const Table& t = GetParam();
  RtpClock clock(t.rate_hz, kBounds);
  for (size_t i = 0; i < t.rows.size(); ++i) {
    if (t.reset_before && *t.reset_before == i) clock.reset();
    const Row& row = t.rows[i];
    const RtpClock::Placement p = clock.place(row.rtp, MediaTime::from_us(row.arrival_us));
    SCOPED_TRACE("row " + std::to_string(i) + ": rtp " + std::to_string(row.rtp));
    ASSERT_EQ(p.at.has_value(), row.placed_us.has_value());
    if (row.placed_us) {
      EXPECT_NEAR(static_cast<double>(p.at->us()), static_cast<double>(*row.placed_us), 1.0);
    }
    EXPECT_EQ(p.reanchored, row.reanchored);
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, RtpClockTable, ::testing::ValuesIn(tables()),
                         [](const ::testing::TestParamInfo<Table>& info) { return info.param.name; });

// A 90 kHz clock passes 2^31 ticks after 6.6 h and wraps after 13.3 h; the stream keeps
// counting (one packet an hour here, each well within the window).
TEST(RtpClock, CountsPastTwoToTheThirtyOneAndTheWrap) {
  RtpClock clock(90000, kBounds);
  for (int64_t hour = 0; hour <= 14; ++hour) {
    const auto rtp = static_cast<uint32_t>(hour * 324'000'000);
    const RtpClock::Placement p = clock.place(rtp, MediaTime::from_us(hour * 3'600'000'000));
    ASSERT_TRUE(p.at) << hour;
    EXPECT_EQ(p.at->us(), hour * 3'600'000'000) << hour;
  }
}

// Placement stays exact in the stream's own clock: 20 ms Opus packets land 960 ticks
// of 48 kHz apart, however long the stream and wherever the anchor fell.
TEST(RtpClock, KeepsTheStreamsOwnTicks) {
  RtpClock clock(48000, kBounds);
  const MediaTime first = *clock.place(7, MediaTime::from_us(1'234'567)).at;
  for (int k = 1; k <= 50 * 3600; ++k) {  // an hour
    const auto p = clock.place(7 + 960u * static_cast<uint32_t>(k), MediaTime::from_us(1'234'567 + int64_t{k} * 20'000));
    ASSERT_TRUE(p.at);
    ASSERT_EQ((*p.at - first).rescaled({1, 48000}).ticks(), 960 * k);
  }
}

}  // namespace
}  // namespace callrec::engine
