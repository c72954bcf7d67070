#include "callrec/ingest/vp8_depacketizer.h"

#include <gtest/gtest.h>

#include "test_packets.h"

namespace callrec::ingest {
namespace {

TEST(Vp8DescriptorTest, ReadsEveryField) {
  const auto d = Vp8Descriptor::parse(test::vp8_payload(true, {0x10}, 0x1234, 77, 2, true));
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->start_of_partition);
  EXPECT_EQ(d->partition_index, 0);
  EXPECT_EQ(d->layers.picture_id, 0x1234);
  EXPECT_EQ(d->layers.tl0_pic_idx, 77);
  EXPECT_EQ(d->layers.temporal_layer, 2);
  EXPECT_TRUE(d->layers.layer_sync);
  EXPECT_EQ(d->size, 6u);
  // 7-bit picture id, no X fields beyond it.
  const auto short_id = Vp8Descriptor::parse(std::vector<uint8_t>{0x90, 0x80, 0x05, 0xaa});
  ASSERT_TRUE(short_id);
  EXPECT_EQ(short_id->layers.picture_id, 5);
  EXPECT_FALSE(short_id->layers.temporal_layer);
  EXPECT_EQ(short_id->size, 3u);
  // KEYIDX without TID still takes its byte.
  const auto keyidx = Vp8Descriptor::parse(std::vector<uint8_t>{0x90, 0x10, 0x1f, 0xaa});
  ASSERT_TRUE(keyidx);
  EXPECT_FALSE(keyidx->layers.temporal_layer);
  EXPECT_EQ(keyidx->size, 3u);
}

TEST(Vp8DescriptorTest, RejectsTruncatedDescriptors) {
  const std::vector<std::vector<uint8_t>> bad = {
      {}, {0x80}, {0x80, 0x80}, {0x80, 0x80, 0x80}, {0x80, 0x40}, {0x80, 0x20}, {0x80, 0xe0, 0x81, 0x00, 0x07}};
  for (const auto& b : bad) EXPECT_FALSE(Vp8Descriptor::parse(b)) << b.size();
}

class Vp8DepacketizerTest : public ::testing::Test {
 protected:
  const AssembledFrame* push(uint16_t seq, uint32_t ts, bool marker, std::vector<uint8_t> payload, int64_t lost = 0) {
    bytes_.push_back(test::rtp({.payload_type = 96, .marker = marker, .sequence_number = seq, .timestamp = ts, .ssrc = 1},
                               std::move(payload)));
    return depacketizer.push(*RtpPacket::parse(bytes_.back()), seq * 1000, lost);
  }
  Vp8Depacketizer depacketizer;
  std::vector<std::vector<uint8_t>> bytes_;
};

TEST_F(Vp8DepacketizerTest, AssemblesAKeyFrameFromThreePackets) {
  EXPECT_FALSE(push(1, 3000, false, test::vp8_payload(true, test::vp8_key_frame_start(), 1)));
  EXPECT_FALSE(push(2, 3000, false, test::vp8_payload(false, {1, 2}, 1)));
  const AssembledFrame* f = push(3, 3000, true, test::vp8_payload(false, {3}, 1));
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->keyframe);
  EXPECT_EQ(f->width, 640);
  EXPECT_EQ(f->height, 360);
  EXPECT_EQ(f->data.size(), test::vp8_key_frame_start().size() + 3);
  EXPECT_EQ(f->rtp_timestamp, 3000u);
  EXPECT_EQ(f->arrival_us, 3000);
  EXPECT_FALSE(f->loss_before);
  const AssembledFrame* g = push(4, 6000, true, test::vp8_payload(true, test::vp8_inter_frame_start(), 2));
  ASSERT_TRUE(g);
  EXPECT_FALSE(g->keyframe);
  EXPECT_EQ(depacketizer.stats().frames, 2);
}

TEST_F(Vp8DepacketizerTest, AFrameWithALostPacketIsDiscarded) {
  push(1, 3000, false, test::vp8_payload(true, test::vp8_key_frame_start()));
  EXPECT_FALSE(push(3, 3000, true, test::vp8_payload(false, {3}), /*lost=*/1));
  EXPECT_EQ(depacketizer.stats().frames_broken, 1);
  const AssembledFrame* next = push(4, 6000, true, test::vp8_payload(true, test::vp8_inter_frame_start()));
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->loss_before);
}

TEST_F(Vp8DepacketizerTest, AFrameWhoseStartOrEndWasLostIsDiscarded) {
  // Start lost: continuation packets are skipped.
  EXPECT_FALSE(push(2, 3000, false, test::vp8_payload(false, {1}), 1));
  EXPECT_FALSE(push(3, 3000, true, test::vp8_payload(false, {2})));
  // End (marker) lost: the next timestamp discards it.
  push(4, 6000, false, test::vp8_payload(true, test::vp8_inter_frame_start()));
  const AssembledFrame* f = push(6, 9000, true, test::vp8_payload(true, test::vp8_key_frame_start()), 1);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->keyframe);
  EXPECT_TRUE(f->loss_before);
  EXPECT_EQ(depacketizer.stats().frames_broken, 2);
}

TEST_F(Vp8DepacketizerTest, MalformedDescriptorsBreakTheFrame) {
  push(1, 3000, false, test::vp8_payload(true, test::vp8_key_frame_start()));
  EXPECT_FALSE(push(2, 3000, true, {0x80}));  // X set, extension byte missing
  EXPECT_EQ(depacketizer.stats().packets_malformed, 1);
  EXPECT_EQ(depacketizer.stats().frames_broken, 1);
  EXPECT_FALSE(push(3, 6000, true, {0x10}));  // a start with no payload
}

}  // namespace
}  // namespace callrec::ingest
