#include "callrec/ingest/vp8_layer_filter.h"

#include <gtest/gtest.h>

#include <vector>

namespace callrec::ingest {
namespace {

// Feeds `seconds` of an L1Tn stream at `fps`; returns the layers of the frames kept
// in the last second. Frame 0 is a key frame; each layer's first frame after it is a
// sync frame (as libvpx marks them).
std::vector<int> run(Vp8LayerFilter& filter, int fps, std::vector<int> pattern, double seconds,
                     std::vector<int>* kept_all = nullptr) {
  std::vector<int> kept_last_second;
  const int frames = static_cast<int>(fps * seconds);
  std::vector<bool> synced(4, false);
  for (int i = 0; i < frames; ++i) {
    const int tid = pattern[static_cast<size_t>(i) % pattern.size()];
    const bool key = i == 0;
    const bool sync = !synced[static_cast<size_t>(tid)] || key;
    synced[static_cast<size_t>(tid)] = true;
    if (filter.keep(int64_t{i} * 90000 / fps, tid, sync, key)) {
      if (kept_all) kept_all->push_back(tid);
      if (i >= frames - fps) kept_last_second.push_back(tid);
    }
  }
  return kept_last_second;
}

TEST(Vp8LayerFilterTest, ThirtyFpsThreeLayersKeepsTheBaseLayer) {
  Vp8LayerFilter filter;
  const auto kept = run(filter, 30, {0, 2, 1, 2}, 3);
  EXPECT_EQ(kept.size(), 8u);  // 7.5 fps
  for (const int tid : kept) EXPECT_EQ(tid, 0);
  EXPECT_EQ(filter.max_kept_layer(), 0);
  EXPECT_GT(filter.frames_dropped(), 40);
}

TEST(Vp8LayerFilterTest, TwentyFourFpsThreeLayersKeepsTwoLayers) {
  Vp8LayerFilter filter;
  const auto kept = run(filter, 24, {0, 2, 1, 2}, 3);
  EXPECT_EQ(kept.size(), 12u);
  EXPECT_EQ(filter.max_kept_layer(), 1);
}

TEST(Vp8LayerFilterTest, FramesWithoutLayersAndTheFirstSecondPass) {
  Vp8LayerFilter filter;
  for (int i = 0; i < 60; ++i) EXPECT_TRUE(filter.keep(i * 3000, std::nullopt, false, false));
  Vp8LayerFilter layered;
  std::vector<int> all;
  run(layered, 30, {0, 2, 1, 2}, 1, &all);
  EXPECT_EQ(all.size(), 30u);
}

TEST(Vp8LayerFilterTest, RaisingALayerWaitsForItsSyncFrame) {
  Vp8LayerFilter filter;
  run(filter, 30, {0, 2, 1, 2}, 2);
  ASSERT_EQ(filter.max_kept_layer(), 0);
  // The sender drops to 12 fps (TL0 3 fps): TL1 is wanted again, but only from a frame
  // that marks layer sync.
  int64_t ts = 2 * 90000;
  int kept_tl1 = 0;
  for (int i = 0; i < 60; ++i) {
    ts += 7500;
    const int tid = std::vector<int>{0, 2, 1, 2}[static_cast<size_t>(i) % 4];
    const bool sync = i == 30 && tid == 1;  // never a sync until frame 30... which is TL1
    const bool kept = filter.keep(ts, tid, sync, false);
    if (tid == 1 && kept) {
      ++kept_tl1;
      EXPECT_GE(i, 30);
    }
  }
  EXPECT_GT(kept_tl1, 0);
  EXPECT_GE(filter.max_kept_layer(), 1);
}

}  // namespace
}  // namespace callrec::ingest
