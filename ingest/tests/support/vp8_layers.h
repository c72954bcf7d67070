// VP8 with temporal layers from libvpx (through libavcodec's ts-parameters): the L1T3
// pattern 0-2-1-2 that WebRTC uses, for the layer filter's test and benchmark.
#pragma once

#include <cstdint>
#include <vector>

namespace callrec::ingest::test {

struct LayeredFrame {
  std::vector<uint8_t> data;
  int temporal_layer = 0;
  bool keyframe = false;
  int64_t timestamp_90k = 0;
};

// `frames` of a moving 640x360 picture at `fps`, encoded in three temporal layers.
std::vector<LayeredFrame> encode_vp8_l1t3(int frames, int fps, int width = 640, int height = 360);

// Decodes `frames` in order; returns each picture's luma plane (empty on error).
std::vector<std::vector<uint8_t>> decode_vp8(const std::vector<const LayeredFrame*>& frames);

}  // namespace callrec::ingest::test
