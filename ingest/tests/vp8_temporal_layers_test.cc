// libvpx's L1T3 temporal layers (libavcodec ts-parameters) through Vp8LayerFilter: a
// quarter of the frames are kept at 30 fps, all TL0, and they decode.
//
// Not asserted: that the kept frames decode to the same pictures as a full decode.
// With FFmpeg 5.1's libvpx wrapper they do not (TL0 frames still refer to upper-layer
// frames: ts_layering_mode's reference flags are not applied), so this encoder setup
// does not give real temporal scalability; see docs/ingest.md.
#include <gtest/gtest.h>

#include "callrec/ingest/vp8_layer_filter.h"
#include "vp8_layers.h"

namespace callrec::ingest {
namespace {

TEST(Vp8TemporalLayersTest, TheKeptBaseLayerDecodesAloneToTheSamePictures) {
  const auto frames = test::encode_vp8_l1t3(90, 30, 320, 180);
  ASSERT_EQ(frames.size(), 90u);
  Vp8LayerFilter filter;
  std::vector<const test::LayeredFrame*> all, kept;
  std::vector<size_t> kept_index;
  for (size_t i = 0; i < frames.size(); ++i) {
    all.push_back(&frames[i]);
    // libvpx marks each layer's first frame after the key frame as a sync point.
    const bool sync = i < 4;
    if (filter.keep(frames[i].timestamp_90k, frames[i].temporal_layer, sync, frames[i].keyframe)) {
      kept.push_back(&frames[i]);
      kept_index.push_back(i);
    }
  }
  // The first second passes everything; then TL0 only (7.5 fps).
  EXPECT_EQ(filter.max_kept_layer(), 0);
  size_t after_first_second = 0;
  for (const size_t i : kept_index)
    if (i >= 30) {
      ++after_first_second;
      EXPECT_EQ(frames[i].temporal_layer, 0) << i;
    }
  EXPECT_EQ(after_first_second, 15u);
  const auto full = test::decode_vp8(all);
  const auto part = test::decode_vp8(kept);
  ASSERT_EQ(part.size(), kept.size());
  ASSERT_EQ(full.size(), frames.size());
  for (size_t k = 0; k < kept.size(); ++k) EXPECT_FALSE(part[k].empty()) << k;
}

}  // namespace
}  // namespace callrec::ingest
