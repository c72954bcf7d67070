#include "callrec/ingest/keyframe_gate.h"

#include <gtest/gtest.h>

namespace callrec::ingest {
namespace {

AssembledFrame frame(bool key, bool loss = false, std::optional<int> tid = {}, std::optional<int> tl0 = {},
                     bool sync = false) {
  AssembledFrame f;
  f.keyframe = key;
  f.loss_before = loss;
  f.vp8.temporal_layer = tid;
  f.vp8.tl0_pic_idx = tl0;
  f.vp8.layer_sync = sync;
  return f;
}

TEST(KeyframeGateTest, NothingBeforeTheFirstKeyFrame) {
  KeyframeGate gate;
  EXPECT_FALSE(gate.admit(frame(false)));
  EXPECT_TRUE(gate.admit(frame(true)));
  EXPECT_TRUE(gate.admit(frame(false)));
}

TEST(KeyframeGateTest, ALossClosesTheGateUntilTheNextKeyFrame) {
  KeyframeGate gate;
  gate.admit(frame(true));
  EXPECT_FALSE(gate.admit(frame(false, /*loss=*/true)));
  EXPECT_TRUE(gate.waiting_for_keyframe());
  EXPECT_FALSE(gate.admit(frame(false)));
  EXPECT_TRUE(gate.admit(frame(true, true)));
  EXPECT_TRUE(gate.admit(frame(false)));
  gate.request_keyframe();
  EXPECT_FALSE(gate.admit(frame(false)));
}

// L1T3 pattern: TID 0 2 1 2 0 2 1 2 ..., TL0PICIDX counts TL0 frames.
TEST(KeyframeGateTest, AnUpperLayerLossWaitsForItsLayerSync) {
  KeyframeGate gate;
  EXPECT_TRUE(gate.admit(frame(true, false, 0, 10)));
  EXPECT_TRUE(gate.admit(frame(false, false, 2, 10, true)));
  // The TL1 frame is lost; the next TL2 frame arrives after the gap.
  EXPECT_FALSE(gate.admit(frame(false, true, 2, 10)));
  EXPECT_FALSE(gate.waiting_for_keyframe());
  EXPECT_TRUE(gate.admit(frame(false, false, 0, 11)));   // base intact
  EXPECT_FALSE(gate.admit(frame(false, false, 2, 11)));  // still broken
  EXPECT_TRUE(gate.admit(frame(false, false, 1, 11, true)));  // TL1 sync
  EXPECT_FALSE(gate.admit(frame(false, false, 2, 11)));       // TL2 still waits
  EXPECT_TRUE(gate.admit(frame(false, false, 2, 11, true)));
  EXPECT_TRUE(gate.admit(frame(false, false, 0, 12)));
}

TEST(KeyframeGateTest, ALostBaseFrameWaitsForAKeyFrame) {
  KeyframeGate gate;
  gate.admit(frame(true, false, 0, 10));
  gate.admit(frame(false, false, 2, 10));
  // TL0 frame 11 lost: the next TL0 says 12.
  EXPECT_FALSE(gate.admit(frame(false, true, 0, 12)));
  EXPECT_TRUE(gate.waiting_for_keyframe());
  // An upper frame that follows a lost TL0 frame says 11 where 10 was last seen.
  KeyframeGate other;
  other.admit(frame(true, false, 0, 10));
  EXPECT_FALSE(other.admit(frame(false, true, 2, 11)));
  EXPECT_TRUE(other.waiting_for_keyframe());
  // TL0PICIDX wraps at 255.
  KeyframeGate wrap;
  wrap.admit(frame(true, false, 0, 255));
  EXPECT_TRUE(wrap.admit(frame(false, false, 0, 0)));
}

}  // namespace
}  // namespace callrec::ingest
