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

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "callrec/compositor/tile_layout.h"
#include "callrec/core/media_time.h"

extern "C" struct AVFrame;

namespace callrec::compositor {

inline constexpr Size kCanvas{1920, 1080};

using ParticipantId = int;

// Optional tuning; the defaults are the product behaviour.
struct CompositorConfig {
  Size canvas = kCanvas;
  // A participant whose nearest frame is further than this from t (no frame within
  // the timeout: stalled, or video not started yet) shows the placeholder.
  MediaTime stall_timeout = MediaTime::from_ms(2000);
  // Duration of a participant's last frame when it cannot be told from the spacing of
  // the last two frames (used to end the video after end_video()).
  MediaTime default_frame_duration = MediaTime::from_ms(125);
  // Most participant tiles shown at once (capped at kMaxGridTiles). With more
  // participants, the most recently active speakers (set_speaking) are shown.
  int max_visible_tiles = kMaxGridTiles;
  // Frames kept per participant ahead of compose time; beyond this the oldest are
  // dropped (bounds memory when a source is read far ahead).
  int max_queued_frames = 120;
  // Font file for the placeholder initials; empty: a bold sans-serif font found through
  // fontconfig. Loaded on first use; without a usable font, placeholders show their
  // colour alone (a warning goes to the log sink), never an error.
  std::string placeholder_font_path;
};

class VideoCompositor {
 public:
  explicit VideoCompositor(Size canvas = kCanvas);
  explicit VideoCompositor(const CompositorConfig& config);
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
  // copied; the caller may reuse it after the call. A picture the compositor cannot
  // show (picture_problem()) is refused with a callrec::Error naming the participant,
  // here and not at compose time, so it never costs the other participants their tiles.
  void push_frame(ParticipantId id, const AVFrame& frame, MediaTime pts);

  // Why `frame` cannot be composed, or nullopt: no size or larger than kMaxPictureSide,
  // a hardware surface (VAAPI, CUDA, ...: it must be transferred to memory first), a
  // pixel format swscale cannot read, a missing plane. Cheap; any thread.
  static std::optional<std::string> picture_problem(const AVFrame& frame);
  static constexpr int kMaxPictureSide = 16384;
  // No more frames are coming for this participant's current video (stream ended).
  // After its last frame it shows the placeholder (while still in the grid).
  // A later push_frame starts a new video (rejoin with camera). The last frame lasts
  // `last_frame_duration` if given (a caller that pushes only the frames that can be
  // shown knows the spacing of the frames it decoded), else the spacing of the last two
  // pushed frames, else default_frame_duration.
  void end_video(ParticipantId id, std::optional<MediaTime> last_frame_duration = std::nullopt);

  // A screen share of `participant_id` starts. Its frames are pushed with push_frame
  // and ended with end_video()/leave() like any participant's. While a share is on
  // (the most recently started one, if several), it takes the main area (aspect
  // fitted) and the participants move to a strip (screen_share_layout); the layout
  // returns to the grid when the share is left. Before its first frame, and when
  // stalled or ended, the share area shows a placeholder of the sharer.
  ParticipantId join_screen_share(std::string participant_id);

  // The participant was heard at call time `at` (voice activity, from the engine).
  // With more participants than tiles, the most recently active ones are shown;
  // a shown participant keeps their tile until a more recent speaker replaces the
  // least recently active one.
  void set_speaking(ParticipantId id, MediaTime at);

  // Participants shown by the last compose(), in tile order (for tests and metadata).
  std::vector<ParticipantId> visible_participants() const;
  // Whether the last compose() had a picture of this participant (or share) to show at
  // its time, shown or hidden; false: the placeholder (no picture within the stall
  // timeout, or the video ended). For the recording's activity metadata.
  bool shows_picture(ParticipantId id) const;

  // Paints the canvas for call time `t`. The returned frame (yuv420p, canvas size)
  // stays owned by the compositor and valid until the next compose(); callers that
  // keep it must av_frame_ref it. A picture that fails to paint (scaling refused) shows
  // the participant's placeholder instead and is reported through take_problems().
  const AVFrame& compose(MediaTime t);

  // Pictures that failed to paint since the last call, one line each (the first few;
  // paint_failures() counts them all).
  std::vector<std::string> take_problems();
  int64_t paint_failures() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec::compositor
