// KeyframeGate: after a loss, no frame goes to the decoder that refers to what was lost
// (no mosaics); a key frame opens the gate again.
//
// Without temporal layer information, any loss closes the gate until the next key
// frame. With VP8 temporal layers (TID and TL0PICIDX on every frame), the gate knows
// more (RFC 7741 §4.2): TL0PICIDX counts base-layer frames, so a gap in it means a TL0
// frame was lost and everything waits for a key frame; when the base chain is intact,
// only the upper layers are broken, each until its next layer-sync frame (Y bit: it
// refers to TL0 frames only). The consumer's decoder can close the gate too
// (request_keyframe(), e.g. after a decoding error).
//
// Threading: one owner thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "callrec/ingest/video_depacketizer.h"

namespace callrec::ingest {

class KeyframeGate {
 public:
  // Whether `frame` may be decoded; updates the state with it.
  bool admit(const AssembledFrame& frame);
  // Closes the gate until the next key frame.
  void request_keyframe() { waiting_ = true; }
  bool waiting_for_keyframe() const { return waiting_; }
  void reset();

 private:
  bool waiting_ = true;  // nothing decodable before the first key frame
  std::array<bool, 4> layer_broken_{};
  std::optional<int> last_tl0_pic_idx_;
};

}  // namespace callrec::ingest
