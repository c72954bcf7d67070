// RtpClock: places one RTP stream's 32-bit timestamps on the call timeline.
//
// The stream is anchored at its first packet: that packet is placed at its arrival time,
// every later one by its timestamp's distance from it (extended past 32-bit
// wrap-around, as mediasoup extends sequence numbers). The anchor is not moved for
// jitter or drift: moving it would shift the stream under the mixer, which then bends
// the pitch to absorb the step.
//
// A timestamp that would place its packet far from its arrival (more than `max_ahead`
// ahead or `max_behind` behind) is a discontinuity: a sender that restarted with a new
// random base, a timestamp jump, or a corrupt header. Such a packet is dropped and held
// as a candidate; the stream is re-anchored on it once a later packet confirms it (its
// timestamp and arrival both at least `confirm_after` on from the candidate's, and
// consistent with each other within `tolerance`). A single corrupt timestamp then
// never moves the stream, a burst of packets delayed by a network stall is not taken
// for a new base (their arrivals are bunched while their timestamps are not), and a
// restarted sender loses `confirm_after` of media.
//
// Threading: not synchronised; the participant's queue calls it under its lock.
#pragma once

#include <cstdint>
#include <optional>

#include "callrec/core/media_time.h"

namespace callrec::engine {

struct RtpClockBounds {
  MediaTime max_ahead = MediaTime::from_ms(1000);
  MediaTime max_behind = MediaTime::from_ms(1200);
  MediaTime confirm_after = MediaTime::from_ms(100);
  MediaTime tolerance = MediaTime::from_ms(200);
};

class RtpClock {
 public:
  RtpClock(int clock_rate_hz, RtpClockBounds bounds);

  struct Placement {
    std::optional<MediaTime> at;  // call time of the packet; nullopt: dropped
    bool reanchored = false;      // this packet confirmed a new anchor
  };
  // `arrival`: the call time the packet arrived.
  Placement place(uint32_t rtp_timestamp, MediaTime arrival);

  // Forget the stream: the next packet anchors afresh (a participant who rejoins is a
  // new sender with a new timestamp base).
  void reset();

  int clock_rate_hz() const { return rate_hz_; }

 private:
  struct Anchor {
    uint32_t rtp;       // timestamp of the anchoring packet
    MediaTime arrival;  // its call time
  };
  // Call time of `rtp` on `anchor`'s timeline (the nearest extension within 2^31 ticks).
  MediaTime on(const Anchor& anchor, uint32_t rtp) const;
  bool within_bounds(MediaTime at, MediaTime arrival) const;

  int rate_hz_;
  RtpClockBounds bounds_;
  std::optional<Anchor> anchor_;
  // Extended distance of the last placed packet from the anchor, so a stream running
  // longer than 2^31 ticks (6.6 h at 90 kHz) keeps counting.
  int64_t last_ticks_ = 0;
  uint32_t last_rtp_ = 0;
  std::optional<Anchor> candidate_;
};

}  // namespace callrec::engine
