#include "rtp_clock.h"

namespace callrec::engine {

RtpClock::RtpClock(int clock_rate_hz, RtpClockBounds bounds) : rate_hz_(clock_rate_hz), bounds_(bounds) {}

void RtpClock::reset() {
  anchor_.reset();
  candidate_.reset();
  last_ticks_ = 0;
  last_rtp_ = 0;
}

// Results are in the stream's own clock (the anchor's arrival rounded to one of its
// ticks), so consecutive packets stay exactly their timestamps apart.
MediaTime RtpClock::on(const Anchor& anchor, uint32_t rtp) const {
  const auto ticks = static_cast<int32_t>(rtp - anchor.rtp);
  return MediaTime(ticks, Rational{1, rate_hz_}) + anchor.arrival;
}

bool RtpClock::within_bounds(MediaTime at, MediaTime arrival) const {
  return at <= arrival + bounds_.max_ahead && at >= arrival - bounds_.max_behind;
}

RtpClock::Placement RtpClock::place(uint32_t rtp_timestamp, MediaTime arrival) {
  if (!anchor_) {
    anchor_ = Anchor{rtp_timestamp, arrival};
    last_rtp_ = rtp_timestamp;
    last_ticks_ = 0;
    return {on(*anchor_, rtp_timestamp), false};
  }
  // Extend from the last placed packet: exact for any distance below 2^31 ticks.
  const int64_t ticks = last_ticks_ + static_cast<int32_t>(rtp_timestamp - last_rtp_);
  const MediaTime at = MediaTime(ticks, Rational{1, rate_hz_}) + anchor_->arrival;
  if (within_bounds(at, arrival)) {
    candidate_.reset();
    last_rtp_ = rtp_timestamp;
    last_ticks_ = ticks;
    return {at, false};
  }
  // A discontinuity, or a packet far off its time: confirmed by a later packet, or not.
  if (candidate_) {
    const MediaTime since_candidate = arrival - candidate_->arrival;
    const MediaTime ticks_since = MediaTime(static_cast<int32_t>(rtp_timestamp - candidate_->rtp), Rational{1, rate_hz_});
    const bool consistent = ticks_since - since_candidate <= bounds_.tolerance &&
                            since_candidate - ticks_since <= bounds_.tolerance;
    if (consistent && since_candidate >= bounds_.confirm_after && ticks_since >= bounds_.confirm_after) {
      anchor_ = *candidate_;
      candidate_.reset();
      last_rtp_ = rtp_timestamp;
      last_ticks_ = static_cast<int32_t>(rtp_timestamp - anchor_->rtp);
      return {on(*anchor_, rtp_timestamp), true};
    }
    // Consistent but too soon: keep waiting on the same candidate.
    if (consistent) return {std::nullopt, false};
  }
  candidate_ = Anchor{rtp_timestamp, arrival};
  return {std::nullopt, false};
}

}  // namespace callrec::engine
