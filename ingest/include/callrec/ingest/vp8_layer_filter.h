// Vp8LayerFilter: drops the VP8 temporal layers the output does not need, so they are
// never decoded.
//
// The output shows 8 pictures a second. The filter measures the frame rate of each set
// of layers TL0..TLk over the last second of media and keeps the smallest set that
// reaches `min_frame_rate` (default 7: a 30 fps L1T3 stream keeps TL0 only, 7.5 fps,
// a quarter of the frames, each shown in one or two output periods; 24 fps L1T3 keeps
// TL0+TL1, 12 fps). Dropping the layers
// above a kept set never breaks it: a frame never refers to a higher layer. Raising the
// set waits for a layer-sync frame (Y bit) of the new layer or a key frame, because
// upper-layer frames before it may refer to frames that were dropped. Frames without a
// TID always pass. For the first second (no rate yet) every layer passes.
//
// Threading: one owner thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace callrec::ingest {

class Vp8LayerFilter {
 public:
  explicit Vp8LayerFilter(double min_frame_rate = 7.0) : min_frame_rate_(min_frame_rate) {}

  // Whether the frame goes on to the decoder. `timestamp_90k` is its extended RTP time.
  bool keep(int64_t timestamp_90k, std::optional<int> temporal_layer, bool layer_sync, bool keyframe);

  // Highest layer currently decoded (3 when every layer passes).
  int max_kept_layer() const;
  int64_t frames_dropped() const { return frames_dropped_; }

 private:
  static constexpr int kLayers = 4;
  static constexpr int64_t kWindow90k = 90000;  // one second
  static constexpr size_t kHistory = 256;       // frames remembered (>= 1 s at 240 fps)
  int wanted_layers() const;                    // highest layer wanted, from the rates

  double min_frame_rate_;
  struct Entry {
    int64_t timestamp_90k = 0;
    int layer = 0;
  };
  std::array<Entry, kHistory> history_{};
  size_t history_size_ = 0;
  size_t history_next_ = 0;
  std::optional<int64_t> first_timestamp_;
  std::array<bool, kLayers> decoding_{true, true, true, true};
  int64_t frames_dropped_ = 0;
};

}  // namespace callrec::ingest
