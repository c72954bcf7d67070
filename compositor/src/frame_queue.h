// FrameQueue: one participant's pushed pictures, and the choice of the one to show.
//
// Holds references (av_frame_ref) to frames pushed ahead of compose time, in pts
// order, plus end-of-video markers. select(t) drops what can no longer be nearest
// to any later t and returns the picture nearest to t, or none (placeholder).
// AVFrame shells are recycled, so a steady stream allocates no shells.
// Threading: owned and used by the compositor's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/core/media_time.h"

namespace callrec::compositor {

class FrameQueue {
 public:
  struct Timing {
    MediaTime stall_timeout;           // no picture further than this from t
    MediaTime default_frame_duration;  // last frame's duration when unknown
  };
  struct Selection {
    const AVFrame* frame;  // nullptr: show the placeholder
    uint64_t serial;       // changes whenever the shown picture changes; 0 for none
  };

  FrameQueue(int max_frames, Timing timing);

  void push(const AVFrame& frame, MediaTime pts);
  // The current video ended after its last pushed frame (+ its duration: the given one,
  // or the spacing of the last two pushed frames, or the default).
  void end_video(std::optional<MediaTime> last_frame_duration = std::nullopt);
  Selection select(MediaTime t);
  void clear();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    av::FramePtr frame;  // null: end-of-video marker
    MediaTime pts;
    uint64_t serial;
    bool starts_video;  // first picture of a video: not shown long before its time
  };
  void pop_front();

  int max_frames_;
  Timing timing_;
  std::vector<Entry> entries_;
  std::vector<av::FramePtr> spare_shells_;
  uint64_t next_serial_ = 1;
};

}  // namespace callrec::compositor
