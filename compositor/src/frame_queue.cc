#include "frame_queue.h"

#include <cstdlib>

extern "C" {
#include <libavutil/frame.h>
}

#include "callrec/core/error.h"

namespace callrec::compositor {
namespace {
int64_t distance_us(MediaTime a, MediaTime b) { return std::llabs(a.us() - b.us()); }
}  // namespace

FrameQueue::FrameQueue(int max_frames, Timing timing) : max_frames_(max_frames < 2 ? 2 : max_frames), timing_(timing) {
  entries_.reserve(static_cast<size_t>(max_frames_) + 1);
  spare_shells_.reserve(static_cast<size_t>(max_frames_) + 1);
}

void FrameQueue::pop_front() {
  if (entries_.front().frame) {
    av_frame_unref(entries_.front().frame.get());
    spare_shells_.push_back(std::move(entries_.front().frame));
  }
  entries_.erase(entries_.begin());
}

void FrameQueue::push(const AVFrame& frame, MediaTime pts) {
  // A video that ended, then a picture from before that end (the next file of a
  // reconnecting camera starting while the last picture of the previous one still
  // lasts): the video goes on, the end no longer applies. Left in place, the end
  // would be "nearer" than every later picture and hold the tile on its placeholder
  // until the queue overflowed.
  if (!entries_.empty() && !entries_.back().frame && pts <= entries_.back().pts) entries_.pop_back();
  if (static_cast<int>(entries_.size()) >= max_frames_) pop_front();
  av::FramePtr shell;
  if (!spare_shells_.empty()) {
    shell = std::move(spare_shells_.back());
    spare_shells_.pop_back();
  } else {
    shell = av::make_frame();
  }
  check_av(av_frame_ref(shell.get(), &frame), "compositor: referencing a pushed video frame");
  const bool starts_video = entries_.empty() || !entries_.back().frame;
  entries_.push_back(Entry{std::move(shell), pts, next_serial_++, starts_video});
}

void FrameQueue::end_video(std::optional<MediaTime> last_frame_duration) {
  if (entries_.empty() || !entries_.back().frame) return;
  const MediaTime last = entries_.back().pts;
  MediaTime duration = timing_.default_frame_duration;
  if (last_frame_duration && last_frame_duration->us() > 0) {
    duration = *last_frame_duration;
  } else if (entries_.size() >= 2 && entries_[entries_.size() - 2].frame) {
    const MediaTime previous = entries_[entries_.size() - 2].pts;
    if (previous < last) duration = last - previous;
  }
  if (static_cast<int>(entries_.size()) >= max_frames_) pop_front();
  entries_.push_back(Entry{nullptr, last + duration, next_serial_++, false});
}

FrameQueue::Selection FrameQueue::select(MediaTime t) {
  while (entries_.size() >= 2) {
    const Entry& current = entries_[0];
    const Entry& next = entries_[1];
    bool advance = false;
    if (!next.frame) {
      advance = t >= next.pts;  // the video ends after its last frame's duration
    } else {
      advance = distance_us(next.pts, t) < distance_us(current.pts, t);
    }
    if (!advance) break;
    pop_front();
  }
  if (entries_.empty() || !entries_.front().frame) return Selection{nullptr, 0};
  const Entry& shown = entries_.front();
  if (distance_us(shown.pts, t) > timing_.stall_timeout.us()) return Selection{nullptr, 0};
  // A video's first picture appears from the output frame nearest to it, not up to
  // a stall timeout early.
  if (shown.starts_video && shown.pts > t && 2 * (shown.pts.us() - t.us()) > timing_.default_frame_duration.us()) {
    return Selection{nullptr, 0};
  }
  return Selection{shown.frame.get(), shown.serial};
}

void FrameQueue::clear() {
  while (!entries_.empty()) pop_front();
}

}  // namespace callrec::compositor
