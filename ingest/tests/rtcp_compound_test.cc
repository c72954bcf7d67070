#include "callrec/ingest/rtcp_compound.h"

#include <gtest/gtest.h>

#include "test_packets.h"

namespace callrec::ingest {
namespace {

TEST(RtcpCompoundTest, ReadsSenderReportSdesAndBye) {
  std::vector<uint8_t> datagram = test::sender_report(0x1234, 3'900'000'000'000'000, 90000);
  std::vector<uint8_t> sdes(64);
  sdes.resize(serialize_sdes_cname(0x1234, "user@host", sdes));
  datagram.insert(datagram.end(), sdes.begin(), sdes.end());
  // BYE for one SSRC.
  datagram.insert(datagram.end(), {0x81, 203, 0, 1, 0, 0, 0x12, 0x34});
  const auto c = RtcpCompound::parse(datagram);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->sender_reports.size(), 1u);
  EXPECT_EQ(c->sender_reports[0].ssrc, 0x1234u);
  EXPECT_EQ(c->sender_reports[0].rtp_timestamp, 90000u);
  EXPECT_NEAR(static_cast<double>(c->sender_reports[0].ntp.us()), 3.9e15, 1.0);
  EXPECT_EQ(c->skipped_packets, 1);
  ASSERT_EQ(c->byes.size(), 1u);
  EXPECT_EQ(c->byes[0].ssrcs, std::vector<uint32_t>{0x1234});
}

TEST(RtcpCompoundTest, ReceiverReportAndPliRoundTrip) {
  ReceiverReport rr;
  rr.ssrc = 7;
  ReportBlock b;
  b.ssrc = 9;
  b.fraction_lost = 25;
  b.cumulative_lost = -3;
  b.extended_highest_sequence = 0x10005;
  b.jitter = 77;
  b.last_sr = 0xabcdef01;
  b.delay_since_last_sr = 65536;
  rr.blocks.push_back(b);
  std::vector<uint8_t> out(128);
  size_t size = rr.serialize(out);
  size += FeedbackPli{7, 9}.serialize(std::span<uint8_t>(out).subspan(size));
  out.resize(size);
  const auto c = RtcpCompound::parse(out);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->receiver_reports.size(), 1u);
  const ReportBlock& r = c->receiver_reports[0].blocks.at(0);
  EXPECT_EQ(r.ssrc, 9u);
  EXPECT_EQ(r.fraction_lost, 25);
  EXPECT_EQ(r.cumulative_lost, -3);
  EXPECT_EQ(r.extended_highest_sequence, 0x10005u);
  EXPECT_EQ(r.jitter, 77u);
  EXPECT_EQ(r.last_sr, 0xabcdef01u);
  EXPECT_EQ(r.delay_since_last_sr, 65536u);
  ASSERT_EQ(c->plis.size(), 1u);
  EXPECT_EQ(c->plis[0].sender_ssrc, 7u);
  EXPECT_EQ(c->plis[0].media_ssrc, 9u);
}

TEST(RtcpCompoundTest, RejectsDatagramsThatLie) {
  const std::vector<uint8_t> sr = test::sender_report(1, 1'000'000, 0);
  auto with = [&](auto change) {
    auto b = sr;
    change(b);
    return b;
  };
  EXPECT_FALSE(RtcpCompound::parse({}));
  EXPECT_FALSE(RtcpCompound::parse(std::vector<uint8_t>(sr.begin(), sr.end() - 4))) << "length past the end";
  EXPECT_FALSE(RtcpCompound::parse(with([](auto& b) { b[0] = 0x40; }))) << "version 1";
  EXPECT_FALSE(RtcpCompound::parse(with([](auto& b) { b[3] = 2; }))) << "SR shorter than its sender info";
  EXPECT_FALSE(RtcpCompound::parse(with([](auto& b) { b[0] |= 1; }))) << "report count past the packet";
  auto padded_first = sr;
  padded_first[0] |= 0x20;
  padded_first.insert(padded_first.end(), sr.begin(), sr.end());
  EXPECT_FALSE(RtcpCompound::parse(padded_first)) << "padding on a packet that is not the last";
  EXPECT_FALSE(RtcpCompound::parse(std::vector<uint8_t>{0x81, 206, 0, 1, 0, 0, 0, 1})) << "PLI without media SSRC";
  // Unknown types are skipped by their length.
  auto app = sr;
  app.insert(app.end(), {0x80, 204, 0, 2, 0, 0, 0, 1, 'n', 'a', 'm', 'e'});
  const auto c = RtcpCompound::parse(app);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->skipped_packets, 1);
}

TEST(RtcpCompoundTest, NtpTimeConvertsMicroseconds) {
  for (const int64_t us : {int64_t{0}, int64_t{1}, int64_t{999'999}, int64_t{3'900'000'000'123'456}}) {
    EXPECT_NEAR(static_cast<double>(NtpTime::from_us(us).us()), static_cast<double>(us), 1.0);
  }
  EXPECT_EQ(NtpTime{0x0001'0002'0003'0004ULL}.compact(), 0x00020003u);
}

}  // namespace
}  // namespace callrec::ingest
