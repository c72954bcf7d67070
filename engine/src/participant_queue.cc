#include "participant_queue.h"

#include "media_problems.h"

namespace callrec::engine {
namespace {

const char* stream_name(RtpStream stream) {
  switch (stream) {
    case RtpStream::kAudio: return "audio";
    case RtpStream::kCamera: return "camera";
    case RtpStream::kScreen: return "screen share";
  }
  return "";
}

}  // namespace

ParticipantQueue::ParticipantQueue(std::string participant_id, Limits limits, MediaProblemLog* problems)
    : participant_id_(std::move(participant_id)),
      limits_(limits),
      problems_(problems),
      pool_(static_cast<size_t>(std::max(1, limits.capacity))),
      rtp_{RtpClock(48000, limits.rtp), RtpClock(90000, limits.rtp), RtpClock(90000, limits.rtp)} {
  free_.reserve(pool_.size());
  pushed_.reserve(pool_.size());
  waiting_.reserve(pool_.size());
  for (int i = static_cast<int>(pool_.size()) - 1; i >= 0; --i) free_.push_back(i);
}

MediaItem* ParticipantQueue::take_slot() {
  if (free_.empty()) return nullptr;
  const int index = free_.back();
  free_.pop_back();
  return &pool_[static_cast<size_t>(index)];
}

void ParticipantQueue::give_back(MediaItem* item) {
  if (item->frame) av_frame_unref(item->frame.get());
  free_.push_back(static_cast<int>(item - pool_.data()));
}

Status ParticipantQueue::full() {
  counters_.dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
  return Status(SessionErrc::kQueueFull, "participant \"" + participant_id_ + "\": queue full, media dropped");
}

Status ParticipantQueue::commit(MediaItem* item, MediaTime now) {
  const bool ahead = item->at > now + limits_.max_ahead;
  if (ahead || item->at < now - limits_.max_behind) {
    const MediaTime at = item->at;
    give_back(item);
    counters_.dropped_timestamp.fetch_add(1, std::memory_order_relaxed);
    const std::string what = ahead ? "media dropped: placed more than " + format_call_time(limits_.max_ahead) +
                                         " ahead of the call's clock"
                                   : "media dropped: placed more than " + format_call_time(limits_.max_behind) +
                                         " behind the call's clock (too late)";
    if (problems_) problems_->note(participant_id_, what, now);
    return Status(SessionErrc::kDroppedTimestamp, "participant \"" + participant_id_ + "\": media at " +
                                                      format_call_time(at) + " at call time " + format_call_time(now) +
                                                      ": " + what.substr(std::string("media dropped: ").size()));
  }
  pushed_.push_back(static_cast<int>(item - pool_.data()));
  return {};
}

std::optional<MediaTime> ParticipantQueue::place_rtp(RtpStream stream, uint32_t rtp_timestamp, MediaTime now) {
  const RtpClock::Placement placed = rtp_[static_cast<size_t>(stream)].place(rtp_timestamp, now);
  if (placed.reanchored) {
    counters_.rtp_reanchors.fetch_add(1, std::memory_order_relaxed);
    if (problems_) {
      problems_->note(participant_id_,
                      std::string("the ") + stream_name(stream) +
                          " RTP timestamps jumped (a new sender, or its clock reset): placed afresh from here",
                      now);
    }
  }
  return placed.at;
}

Status ParticipantQueue::rtp_jump(RtpStream stream, uint32_t rtp_timestamp, MediaTime now) {
  counters_.dropped_timestamp.fetch_add(1, std::memory_order_relaxed);
  const std::string what = std::string(stream_name(stream)) +
                           " media dropped: its RTP timestamp is far from the stream's (a jump not yet confirmed)";
  if (problems_) problems_->note(participant_id_, what, now);
  return Status(SessionErrc::kDroppedTimestamp, "participant \"" + participant_id_ + "\": RTP timestamp " +
                                                    std::to_string(rtp_timestamp) + " at call time " +
                                                    format_call_time(now) + ": " + what);
}

void ParticipantQueue::reset_rtp() {
  const std::lock_guard lock(mu_);
  for (RtpClock& clock : rtp_) clock.reset();
}

void ParticipantQueue::collect() {
  const size_t before = waiting_.size();
  {
    const std::lock_guard lock(mu_);
    waiting_.insert(waiting_.end(), pushed_.begin(), pushed_.end());
    pushed_.clear();
  }
  // The waiting list is sorted, and pushes mostly come in order: each new item moves
  // back past the later ones only (insertion; stable, and nothing is allocated).
  for (size_t i = before; i < waiting_.size(); ++i) {
    const int index = waiting_[i];
    const MediaTime at = pool_[static_cast<size_t>(index)].at;
    size_t j = i;
    while (j > 0 && pool_[static_cast<size_t>(waiting_[j - 1])].at > at) {
      waiting_[j] = waiting_[j - 1];
      --j;
    }
    waiting_[j] = index;
  }
}

std::optional<MediaTime> ParticipantQueue::earliest_waiting() const {
  if (waiting_.empty()) return std::nullopt;
  return pool_[static_cast<size_t>(waiting_.front())].at;
}

void ParticipantQueue::return_released(size_t count) {
  {
    const std::lock_guard lock(mu_);
    free_.insert(free_.end(), waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(count));
  }
  waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(count));
}

}  // namespace callrec::engine
