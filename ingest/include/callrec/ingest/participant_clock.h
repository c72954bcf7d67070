// ParticipantClock: places one participant's media units on the caller's timeline (lip
// sync). docs/ingest.md "Time" explains the model; in short:
//
// Every unit has a sender time: with sender reports, its SenderClock's NTP time (one
// wall clock for all the participant's streams, so audio and video are comparable);
// without, its own RTP media time (a private clock per stream). Its capture time is the
// sender time plus an offset. The offset is the largest of the streams' path delays:
// each stream's delay is the minimum of (arrival - sender time) over the last
// kTransitWindowUs (a network delay can only add to it), so a stream delayed more than
// the other (video 300 ms behind audio) moves both, and they stay together; every unit
// is placed no earlier than it can have arrived, save for jitter.
//
// The offset moves with the measured delays, but not in steps that would move audio: it
// follows a delay that shrinks or grows slowly (clock skew, a drifting route) at
// kSlewRate (1 ms per second of media, half of what the mixer's drift correction
// absorbs; paced by media time, so a sender that stalls and bursts moves it no faster), and
// steps only up, when media would otherwise be placed more than kStepUpUs before it
// arrived (a stream that starts with a longer delay than the others, a route change).
// Audio has a gap there (filled by concealment or silence), video holds its picture.
//
// Threading: one owner thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "callrec/ingest/sender_clock.h"

namespace callrec::ingest {

// The smallest value seen over the last `buckets` periods of `bucket_us` (by arrival).
class TransitWindow {
 public:
  static constexpr int kBuckets = 10;
  explicit TransitWindow(int64_t bucket_us = 1'000'000) : bucket_us_(bucket_us) {}
  void add(int64_t arrival_us, int64_t transit_us);
  std::optional<int64_t> min() const;
  void reset() { size_ = 0; }

 private:
  struct Bucket {
    int64_t index = 0;
    int64_t min = 0;
  };
  int64_t bucket_us_;
  std::array<Bucket, kBuckets> buckets_{};
  int size_ = 0;  // buckets in use, newest at (first_ + size_ - 1)
  int first_ = 0;
};

// An offset that follows a target by bounded slewing, stepping only upwards. `now_us` is
// the clock that paces the slewing (ParticipantClock passes media time).
class SlewedOffset {
 public:
  SlewedOffset(int64_t step_up_us, double slew_rate) : step_up_us_(step_up_us), slew_rate_(slew_rate) {}
  void update(int64_t target_us, int64_t now_us);
  std::optional<int64_t> value() const { return value_; }
  void reset() { value_.reset(); }
  int64_t steps() const { return steps_; }

 private:
  int64_t step_up_us_;
  double slew_rate_;
  std::optional<int64_t> value_;
  int64_t last_update_us_ = 0;
  int64_t carry_ = 0;  // sub-microsecond slew owed, in 1/1000 µs
  int64_t steps_ = 0;
};

class ParticipantClock {
 public:
  static constexpr int64_t kTransitWindowUs = 10'000'000;  // 10 buckets of 1 s
  static constexpr int64_t kStepUpUs = 40'000;             // the mixer's drift tolerance
  static constexpr double kSlewRate = 0.001;

  explicit ParticipantClock(int streams);

  // The capture time (µs on the caller's timeline) of a unit of `stream` with media
  // time `media_us` (its extended RTP timestamp in µs) that arrived at `arrival_us`.
  // `sender` maps the stream's media time to the sender's wall clock, when it can.
  int64_t place(int stream, int64_t media_us, int64_t arrival_us, const SenderClock* sender);

  // A new segment on `stream` (new SSRC, restart, timestamp jump): its delay history
  // and private offset are forgotten; its next unit is placed from its arrival.
  void start_segment(int stream);

  struct StreamState {
    bool sender_reports = false;          // placed by the shared wall-clock mapping
    std::optional<int64_t> delay_us;      // its path delay estimate in its domain
  };
  StreamState state(int stream) const;
  std::optional<int64_t> wall_clock_offset_us() const { return wall_offset_.value(); }
  int64_t offset_steps() const;

 private:
  struct Stream {
    TransitWindow transit{kTransitWindowUs / TransitWindow::kBuckets};
    SlewedOffset private_offset{kStepUpUs, kSlewRate};
    std::optional<int64_t> wall_delay_us;  // min(arrival - sender NTP), last computed
    bool sender_reports = false;
  };
  std::vector<Stream> streams_;
  SlewedOffset wall_offset_{kStepUpUs, kSlewRate};
};

}  // namespace callrec::ingest
