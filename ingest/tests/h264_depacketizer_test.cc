#include "callrec/ingest/h264_depacketizer.h"

#include <gtest/gtest.h>

#include "test_packets.h"

namespace callrec::ingest {
namespace {

const std::vector<uint8_t> kSps = {0x67, 0x42, 0xc0, 0x1e, 0xd9};
const std::vector<uint8_t> kPps = {0x68, 0xcb, 0x83, 0xcb};
const std::vector<uint8_t> kIdr = {0x65, 0x88, 0x84, 0x21, 0xa0};  // first_mb_in_slice 0
const std::vector<uint8_t> kSlice = {0x41, 0x9a, 0x02, 0x03};      // first_mb_in_slice 0
const std::vector<uint8_t> kSecondSlice = {0x41, 0x40, 0x02};      // first_mb_in_slice > 0

std::vector<uint8_t> annex_b(std::initializer_list<std::vector<uint8_t>> nals) {
  std::vector<uint8_t> out;
  for (const auto& n : nals) {
    out.insert(out.end(), {0, 0, 0, 1});
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

std::vector<uint8_t> stap_a(std::initializer_list<std::vector<uint8_t>> nals) {
  std::vector<uint8_t> out = {0x78};  // NRI 3, type 24
  for (const auto& n : nals) {
    out.push_back(static_cast<uint8_t>(n.size() >> 8));
    out.push_back(static_cast<uint8_t>(n.size()));
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

// FU-A fragments of `nal`, `size` payload bytes each.
std::vector<std::vector<uint8_t>> fu_a(const std::vector<uint8_t>& nal, size_t size) {
  std::vector<std::vector<uint8_t>> out;
  for (size_t at = 1; at < nal.size(); at += size) {
    const size_t n = std::min(size, nal.size() - at);
    std::vector<uint8_t> p = {static_cast<uint8_t>((nal[0] & 0xe0) | 28),
                              static_cast<uint8_t>((at == 1 ? 0x80 : 0) | (at + n == nal.size() ? 0x40 : 0) | (nal[0] & 0x1f))};
    p.insert(p.end(), nal.begin() + static_cast<std::ptrdiff_t>(at), nal.begin() + static_cast<std::ptrdiff_t>(at + n));
    out.push_back(p);
  }
  return out;
}

class H264DepacketizerTest : public ::testing::Test {
 protected:
  const AssembledFrame* push(uint32_t ts, bool marker, std::vector<uint8_t> payload, int64_t lost = 0) {
    bytes_.push_back(test::rtp({.payload_type = 96, .marker = marker, .sequence_number = seq_++, .timestamp = ts, .ssrc = 1},
                               std::move(payload)));
    return depacketizer->push(*RtpPacket::parse(bytes_.back()), 0, lost);
  }
  std::unique_ptr<H264Depacketizer> depacketizer = std::make_unique<H264Depacketizer>();
  std::vector<std::vector<uint8_t>> bytes_;
  uint16_t seq_ = 100;
};

TEST_F(H264DepacketizerTest, SingleNalUnitsMakeAnAccessUnit) {
  EXPECT_FALSE(push(3000, false, kSps));
  EXPECT_FALSE(push(3000, false, kPps));
  const AssembledFrame* f = push(3000, true, kIdr);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->keyframe);
  EXPECT_EQ(std::vector<uint8_t>(f->data.begin(), f->data.end()), annex_b({kSps, kPps, kIdr}));
  const AssembledFrame* g = push(6000, true, kSlice);
  ASSERT_TRUE(g);
  EXPECT_FALSE(g->keyframe);
  EXPECT_EQ(std::vector<uint8_t>(g->data.begin(), g->data.end()), annex_b({kSlice}));
}

TEST_F(H264DepacketizerTest, StapAAndFuAAsRtph264payZeroLatencySendsThem) {
  std::vector<uint8_t> big_idr = kIdr;
  for (int i = 0; i < 3000; ++i) big_idr.push_back(static_cast<uint8_t>(i));
  EXPECT_FALSE(push(3000, false, stap_a({kSps, kPps})));
  const auto fragments = fu_a(big_idr, 1000);
  ASSERT_EQ(fragments.size(), 4u);
  for (size_t i = 0; i < fragments.size(); ++i) {
    const AssembledFrame* f = push(3000, i + 1 == fragments.size(), fragments[i]);
    if (i + 1 < fragments.size()) {
      EXPECT_FALSE(f);
      continue;
    }
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->keyframe);
    EXPECT_EQ(std::vector<uint8_t>(f->data.begin(), f->data.end()), annex_b({kSps, kPps, big_idr}));
  }
}

TEST_F(H264DepacketizerTest, ParameterSetsFromTheSdpGoInFrontOfAnIdr) {
  depacketizer = std::make_unique<H264Depacketizer>(std::vector<std::vector<uint8_t>>{kSps, kPps});
  const AssembledFrame* f = push(3000, true, kIdr);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->keyframe);
  EXPECT_EQ(std::vector<uint8_t>(f->data.begin(), f->data.end()), annex_b({kSps, kPps, kIdr}));
}

TEST_F(H264DepacketizerTest, AnIdrWithoutAnyParameterSetIsNoKeyFrame) {
  const AssembledFrame* f = push(3000, true, kIdr);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->keyframe);
  EXPECT_EQ(depacketizer->idr_without_parameter_sets(), 1);
}

TEST_F(H264DepacketizerTest, LostFragmentsAndUncleanStartsDiscardTheFrame) {
  std::vector<uint8_t> big = kIdr;
  big.resize(3000, 0x11);
  const auto fragments = fu_a(big, 1000);
  push(3000, false, stap_a({kSps, kPps}));
  push(3000, false, fragments[0]);
  EXPECT_FALSE(push(3000, true, fragments[2], /*lost=*/1));
  EXPECT_EQ(depacketizer->stats().frames_broken, 1);
  // A frame that starts with a second slice: its first slice was lost.
  EXPECT_FALSE(push(6000, true, kSecondSlice, 1));
  EXPECT_EQ(depacketizer->stats().frames_broken, 2);
  // An FU-A middle fragment with no start.
  EXPECT_FALSE(push(9000, true, fragments[1], 1));
  const AssembledFrame* ok = push(12000, true, kSlice);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->loss_before);
}

TEST_F(H264DepacketizerTest, MalformedAggregatesAndInterleavedModesAreRejected) {
  EXPECT_FALSE(push(3000, true, {0x78, 0x00, 0x09, 0x67}));  // STAP-A unit past the end
  EXPECT_FALSE(push(6000, true, {0x78, 0x00, 0x00}));        // zero-length unit
  EXPECT_FALSE(push(9000, true, {0x79, 0x00, 0x01, 0x65}));  // STAP-B
  EXPECT_FALSE(push(12000, true, {0x7c}));                   // FU-A without its header
  EXPECT_FALSE(push(15000, true, {0xe5, 0x88}));             // forbidden bit
  const auto& st = depacketizer->stats();
  EXPECT_EQ(st.frames, 0);
  EXPECT_EQ(st.frames_broken + st.packets_malformed, 5);
}

}  // namespace
}  // namespace callrec::ingest
