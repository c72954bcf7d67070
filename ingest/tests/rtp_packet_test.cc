#include "callrec/ingest/rtp_packet.h"

#include <gtest/gtest.h>

#include "test_packets.h"

namespace callrec::ingest {
namespace {

TEST(RtpPacketTest, ReadsTheFixedHeaderAndPayload) {
  const auto bytes = test::rtp({.payload_type = 111, .marker = true, .sequence_number = 0xfffe,
                                .timestamp = 0x80000001, .ssrc = 0xdeadbeef},
                               {1, 2, 3});
  const auto p = RtpPacket::parse(bytes);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->payload_type(), 111);
  EXPECT_TRUE(p->marker());
  EXPECT_EQ(p->sequence_number(), 0xfffe);
  EXPECT_EQ(p->timestamp(), 0x80000001u);
  EXPECT_EQ(p->ssrc(), 0xdeadbeefu);
  EXPECT_EQ(std::vector<uint8_t>(p->payload().begin(), p->payload().end()), (std::vector<uint8_t>{1, 2, 3}));
}

TEST(RtpPacketTest, ReadsOneByteExtensions) {
  const auto bytes = test::rtp({.ssrc = 1}, {9}, {{1, {0x85}}, {3, {1, 2, 3, 4, 5}}});
  const auto p = RtpPacket::parse(bytes);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->extension(1));
  EXPECT_EQ((*p->extension(1))[0], 0x85);
  ASSERT_TRUE(p->extension(3));
  EXPECT_EQ(p->extension(3)->size(), 5u);
  EXPECT_FALSE(p->extension(2));
  EXPECT_EQ(p->payload().size(), 1u);
}

TEST(RtpPacketTest, ReadsTwoByteExtensionsAndCsrcs) {
  // V=2, X=1, CC=1; extension profile 0x1000, one element id 200 with 2 bytes.
  std::vector<uint8_t> b = {0x91, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, /*csrc*/ 0, 0, 0, 3,
                            0x10, 0x00, 0, 1, /*elements*/ 200, 2, 7, 8, /*payload*/ 42};
  const auto p = RtpPacket::parse(b);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->extension(200));
  EXPECT_EQ((*p->extension(200))[1], 8);
  EXPECT_EQ(p->payload().size(), 1u);
  EXPECT_EQ(p->payload()[0], 42);
}

TEST(RtpPacketTest, StripsPaddingAndKeepsPaddingOnlyPacketsEmpty) {
  std::vector<uint8_t> b = test::rtp({.ssrc = 5}, {1, 2, 0, 0, 3});
  b[0] |= 0x20;  // the last byte (3) counts the padding: 0, 0, 3
  const auto p = RtpPacket::parse(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->payload().size(), 2u);
  EXPECT_EQ(p->padding_bytes(), 3u);
  std::vector<uint8_t> only = test::rtp({.ssrc = 5}, {0, 0, 0, 4});
  only[0] |= 0x20;
  const auto q = RtpPacket::parse(only);
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->payload().empty());
}

TEST(RtpPacketTest, RejectsPacketsThatLieAboutTheirSize) {
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    RtpParseError error;
  };
  std::vector<uint8_t> base = test::rtp({.ssrc = 1}, {1, 2, 3, 4});
  auto with = [&](auto change) {
    auto b = base;
    change(b);
    return b;
  };
  const std::vector<Case> cases = {
      {"11 bytes", std::vector<uint8_t>(base.begin(), base.begin() + 11), RtpParseError::kTooShort},
      {"version 1", with([](auto& b) { b[0] = 0x40; }), RtpParseError::kBadVersion},
      {"15 CSRCs in 16 bytes", with([](auto& b) { b[0] |= 0x0f; }), RtpParseError::kTooShort},
      {"extension header missing", with([](auto& b) { b[0] |= 0x10; }), RtpParseError::kBadExtension},
      {"padding larger than payload", with([](auto& b) { b[0] |= 0x20; b.back() = 200; }), RtpParseError::kBadPadding},
      {"padding count 0", with([](auto& b) { b[0] |= 0x20; b.back() = 0; }), RtpParseError::kBadPadding},
  };
  for (const auto& c : cases) {
    RtpParseError error{};
    EXPECT_FALSE(RtpPacket::parse(c.bytes, &error)) << c.what;
    EXPECT_EQ(error, c.error) << c.what;
  }
  // An absurd extension length (0xffff words).
  std::vector<uint8_t> ext = {0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0xff, 0xff, 0x10, 0};
  RtpParseError error{};
  EXPECT_FALSE(RtpPacket::parse(ext, &error));
  EXPECT_EQ(error, RtpParseError::kBadExtension);
  // An element running past the extension block.
  std::vector<uint8_t> element = {0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x1f, 1, 2, 3};
  EXPECT_FALSE(RtpPacket::parse(element, &error));
}

TEST(RtpPacketTest, TellsRtcpFromRtpOnAMuxedPort) {
  const auto sr = test::sender_report(1, 1'000'000, 0);
  EXPECT_TRUE(RtpPacket::looks_like_rtcp(sr));
  EXPECT_FALSE(RtpPacket::looks_like_rtcp(test::rtp({.payload_type = 96, .marker = true}, {1})));
  EXPECT_FALSE(RtpPacket::looks_like_rtcp(test::rtp({.payload_type = 111}, {1})));
}

}  // namespace
}  // namespace callrec::ingest
