// VideoCompositor: paints the participants' latest pictures into one 1920x1080
// yuv420p canvas per output frame.
//
// Inputs are placed on the call timeline (MediaTime). compose(t) shows, for each
// participant in the grid, the pushed frame whose timestamp is nearest to t. The
// caller (engine) guarantees that, before compose(t), every participant with video
// has been pushed all frames up to and including the first one at or after t (or has
// had end_video() called), so "nearest" can be decided.
//
// Threading: one VideoCompositor is owned and used by one thread (the engine's video
// thread); it is not internally synchronised.
#pragma once

#include <memory>
#include <string>

#include "callrec/compositor/tile_layout.h"
#include "callrec/core/media_time.h"

extern "C" struct AVFrame;

namespace callrec::compositor {

inline constexpr Size kCanvas{1920, 1080};

using ParticipantId = int;

class VideoCompositor {
 public:
  explicit VideoCompositor(Size canvas = kCanvas);
  ~VideoCompositor();
  VideoCompositor(const VideoCompositor&) = delete;
  VideoCompositor& operator=(const VideoCompositor&) = delete;

  // A participant joins the grid (in join order). Until frames arrive, or when they
  // have none, a placeholder tile is shown: a colour derived from `participant_id`
  // with the initials of `display_name` (or of the id when the name is empty).
  ParticipantId join(std::string participant_id, std::string display_name);
  // The participant leaves the grid; the others re-flow. Its frames are discarded.
  void leave(ParticipantId id);

  // A decoded picture of any size and pixel format, shown at call time `pts`.
  // Frames of one participant are pushed in pts order. The frame is referenced or
  // copied; the caller may reuse it after the call.
  void push_frame(ParticipantId id, const AVFrame& frame, MediaTime pts);
  // No more frames are coming for this participant's current video (stream ended).
  // After its last frame it shows the placeholder (while still in the grid).
  // A later push_frame starts a new video (rejoin with camera).
  void end_video(ParticipantId id);

  // Paints the canvas for call time `t`. The returned frame (yuv420p, canvas size)
  // stays owned by the compositor and valid until the next compose(); callers that
  // keep it must av_frame_ref it.
  const AVFrame& compose(MediaTime t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec::compositor
