#include "callrec/ingest/keyframe_gate.h"

namespace callrec::ingest {

void KeyframeGate::reset() {
  waiting_ = true;
  layer_broken_ = {};
  last_tl0_pic_idx_.reset();
}

bool KeyframeGate::admit(const AssembledFrame& frame) {
  const auto& layers = frame.vp8;
  const bool layered = layers.temporal_layer && layers.tl0_pic_idx;
  if (frame.keyframe) {
    waiting_ = false;
    layer_broken_ = {};
    last_tl0_pic_idx_ = layered ? layers.tl0_pic_idx : std::nullopt;
    return true;
  }
  if (waiting_) return false;
  if (!layered || !last_tl0_pic_idx_) {
    if (frame.loss_before) {
      waiting_ = true;
      return false;
    }
    return true;
  }
  const int tid = *layers.temporal_layer;
  const int tl0 = *layers.tl0_pic_idx;
  // TL0PICIDX is the base frame this one follows: a TL0 frame carries its own (the
  // previous plus one), an upper-layer frame the one of the last TL0 frame.
  const int expected = tid == 0 ? (*last_tl0_pic_idx_ + 1) & 0xff : *last_tl0_pic_idx_;
  if (tl0 != expected) {
    // A base frame was lost (or the numbering broke): everything refers to it.
    waiting_ = true;
    return false;
  }
  if (frame.loss_before) {
    // The base chain is intact, so what was lost was an upper-layer frame.
    for (size_t t = 1; t < layer_broken_.size(); ++t) layer_broken_[t] = true;
  }
  if (tid == 0) {
    last_tl0_pic_idx_ = tl0;
    return true;
  }
  if (layers.layer_sync) layer_broken_[static_cast<size_t>(tid)] = false;
  // A frame of layer t may refer to frames of layers 1..t.
  for (int t = 1; t <= tid; ++t)
    if (layer_broken_[static_cast<size_t>(t)]) return false;
  return true;
}

}  // namespace callrec::ingest
