#include "callrec/ingest/participant_clock.h"

#include <algorithm>

namespace callrec::ingest {

void TransitWindow::add(int64_t arrival_us, int64_t transit_us) {
  const int64_t index = arrival_us >= 0 ? arrival_us / bucket_us_ : (arrival_us - bucket_us_ + 1) / bucket_us_;
  if (size_ > 0) {
    Bucket& newest = buckets_[static_cast<size_t>((first_ + size_ - 1) % kBuckets)];
    if (index <= newest.index) {  // same bucket (or a clock that went back: keep it there)
      newest.min = std::min(newest.min, transit_us);
      return;
    }
  }
  if (size_ == kBuckets) {
    first_ = (first_ + 1) % kBuckets;
    --size_;
  }
  buckets_[static_cast<size_t>((first_ + size_) % kBuckets)] = Bucket{index, transit_us};
  ++size_;
  // Forget buckets that fell out of the window (a pause in the stream).
  while (size_ > 1 && buckets_[static_cast<size_t>(first_)].index <= index - kBuckets) {
    first_ = (first_ + 1) % kBuckets;
    --size_;
  }
}

std::optional<int64_t> TransitWindow::min() const {
  if (size_ == 0) return std::nullopt;
  int64_t m = buckets_[static_cast<size_t>(first_)].min;
  for (int i = 1; i < size_; ++i) m = std::min(m, buckets_[static_cast<size_t>((first_ + i) % kBuckets)].min);
  return m;
}

void SlewedOffset::update(int64_t target_us, int64_t now_us) {
  if (!value_) {
    value_ = target_us;
    last_update_us_ = now_us;
    return;
  }
  const int64_t elapsed = std::max<int64_t>(0, now_us - last_update_us_);
  last_update_us_ = std::max(last_update_us_, now_us);
  if (target_us > *value_ + step_up_us_) {
    value_ = target_us;
    ++steps_;
    carry_ = 0;
    return;
  }
  // Allowed movement in 1/1000 µs, so that slow slewing is not lost to rounding.
  carry_ += static_cast<int64_t>(slew_rate_ * 1000.0 * static_cast<double>(elapsed));
  const int64_t allowed = carry_ / 1000;
  const int64_t wanted = target_us - *value_;
  const int64_t move = std::clamp(wanted, -allowed, allowed);
  *value_ += move;
  carry_ -= (move >= 0 ? move : -move) * 1000;
  if (move == wanted) carry_ = 0;  // reached: no credit for later
}

ParticipantClock::ParticipantClock(int streams) : streams_(static_cast<size_t>(std::max(streams, 0))) {}

void ParticipantClock::start_segment(int stream) {
  Stream& s = streams_.at(static_cast<size_t>(stream));
  s.transit.reset();
  s.private_offset.reset();
  s.wall_delay_us.reset();
  s.sender_reports = false;
}

int64_t ParticipantClock::place(int stream, int64_t media_us, int64_t arrival_us, const SenderClock* sender) {
  Stream& s = streams_.at(static_cast<size_t>(stream));
  // The transit is kept in the stream's own media time: it does not change meaning
  // when sender reports arrive (the wall-clock delay is derived from it).
  s.transit.add(arrival_us, arrival_us - media_us);
  const int64_t private_delay = *s.transit.min();
  if (sender && sender->has_mapping()) {
    const int64_t ntp = sender->to_ntp_us(media_us);
    s.sender_reports = true;
    s.wall_delay_us = private_delay - (ntp - media_us);
    int64_t target = *s.wall_delay_us;
    for (const Stream& other : streams_)
      if (other.sender_reports && other.wall_delay_us) target = std::max(target, *other.wall_delay_us);
    // Slewing is paced by media time (the sender's wall clock here), not arrival: a
    // sender that stalls and then bursts must not let the offset move faster per second
    // of media than the mixer can follow.
    if (!wall_offset_.value() && s.private_offset.value()) {
      // The first stream with reports: continue where its private placement was, so
      // the switch to the wall clock does not move it.
      wall_offset_.update(*s.private_offset.value() - (ntp - media_us), ntp);
    }
    wall_offset_.update(target, ntp);
    return ntp + *wall_offset_.value();
  }
  s.sender_reports = false;
  s.private_offset.update(private_delay, media_us);
  return media_us + *s.private_offset.value();
}

ParticipantClock::StreamState ParticipantClock::state(int stream) const {
  const Stream& s = streams_.at(static_cast<size_t>(stream));
  if (s.sender_reports) return {true, s.wall_delay_us};
  return {false, s.transit.min()};
}

int64_t ParticipantClock::offset_steps() const {
  int64_t steps = wall_offset_.steps();
  for (const Stream& s : streams_) steps += s.private_offset.steps();
  return steps;
}

}  // namespace callrec::ingest
