#include "callrec/ingest/vp8_layer_filter.h"

#include <algorithm>

namespace callrec::ingest {

int Vp8LayerFilter::wanted_layers() const {
  if (history_size_ == 0) return kLayers - 1;
  const Entry& newest = history_[(history_next_ + kHistory - 1) % kHistory];
  // For each set TL0..t: frames in the last second, and the first and last of them.
  std::array<int, kLayers> count{};
  std::array<int64_t, kLayers> first{}, last{};
  for (size_t i = 0; i < history_size_; ++i) {
    const Entry& e = history_[(history_next_ + kHistory - 1 - i) % kHistory];
    if (newest.timestamp_90k - e.timestamp_90k >= kWindow90k) break;
    for (int t = e.layer; t < kLayers; ++t) {
      const auto k = static_cast<size_t>(t);
      if (count[k]++ == 0) last[k] = e.timestamp_90k;
      first[k] = e.timestamp_90k;
    }
  }
  for (int t = 0; t < kLayers; ++t) {
    const auto k = static_cast<size_t>(t);
    // n frames span n-1 intervals.
    const int64_t span = last[k] - first[k];
    if (count[k] > 1 && span > 0 && (count[k] - 1) * 90000.0 / static_cast<double>(span) >= min_frame_rate_)
      return t;
  }
  return kLayers - 1;
}

int Vp8LayerFilter::max_kept_layer() const {
  int top = 0;
  for (int layer = 0; layer < kLayers; ++layer)
    if (decoding_[static_cast<size_t>(layer)]) top = layer;
    else break;
  return top;
}

bool Vp8LayerFilter::keep(int64_t timestamp_90k, std::optional<int> temporal_layer, bool layer_sync, bool keyframe) {
  if (!temporal_layer) return true;
  const int layer = std::clamp(*temporal_layer, 0, kLayers - 1);
  history_[history_next_] = Entry{timestamp_90k, layer};
  history_next_ = (history_next_ + 1) % kHistory;
  history_size_ = std::min(history_size_ + 1, kHistory);
  if (!first_timestamp_) first_timestamp_ = timestamp_90k;
  const bool measured = timestamp_90k - *first_timestamp_ >= kWindow90k;
  const int wanted = measured ? wanted_layers() : kLayers - 1;
  for (int t = 0; t < kLayers; ++t) {
    auto& on = decoding_[static_cast<size_t>(t)];
    if (t > wanted) on = false;                                  // dropping a layer is always safe
    else if (!on && (keyframe || (t == layer && layer_sync))) on = true;  // joining one needs a sync point
  }
  decoding_[0] = true;
  // A layer is decoded only while every layer below it is.
  bool below = true;
  for (auto& on : decoding_) {
    on = on && below;
    below = on;
  }
  if (decoding_[static_cast<size_t>(layer)]) return true;
  ++frames_dropped_;
  return false;
}

}  // namespace callrec::ingest
