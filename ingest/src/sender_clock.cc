#include "callrec/ingest/sender_clock.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace callrec::ingest {

int64_t SenderClock::fit_ntp(int64_t media_us) const {
  return anchor_ntp_ + std::llround(slope_ * static_cast<double>(media_us - anchor_media_));
}

int64_t SenderClock::to_ntp_us(int64_t media_us) const {
  int64_t correction = correction_us_;
  if (correction != 0) {
    const int64_t after = std::max<int64_t>(0, media_us - correction_media_);
    const auto used = static_cast<int64_t>(kSlewRate * static_cast<double>(after));
    correction = correction > 0 ? std::max<int64_t>(0, correction - used) : std::min<int64_t>(0, correction + used);
  }
  return fit_ntp(media_us) + correction;
}

void SenderClock::refit() {
  // Centered sums keep the products small; the result is a slope, not a timestamp.
  const Report& base = reports_[static_cast<size_t>((next_ + kMaxReports - 1) % kMaxReports)];
  double mean_m = 0, mean_n = 0;
  int64_t first_m = base.media_us, last_m = base.media_us;
  for (int i = 0; i < count_; ++i) {
    const Report& r = reports_[static_cast<size_t>(i)];
    mean_m += static_cast<double>(r.media_us - base.media_us);
    mean_n += static_cast<double>(r.ntp_us - base.ntp_us);
    first_m = std::min(first_m, r.media_us);
    last_m = std::max(last_m, r.media_us);
  }
  mean_m /= count_;
  mean_n /= count_;
  double slope = 1.0;
  if (count_ >= 2 && last_m - first_m >= kMinFitSpanUs) {
    double sxy = 0, sxx = 0;
    for (int i = 0; i < count_; ++i) {
      const Report& r = reports_[static_cast<size_t>(i)];
      const double x = static_cast<double>(r.media_us - base.media_us) - mean_m;
      const double y = static_cast<double>(r.ntp_us - base.ntp_us) - mean_n;
      sxy += x * y;
      sxx += x * x;
    }
    if (sxx > 0) slope = std::clamp(sxy / sxx, 1.0 - kMaxRateError, 1.0 + kMaxRateError);
  }
  slope_ = slope;
  anchor_media_ = base.media_us + std::llround(mean_m);
  anchor_ntp_ = base.ntp_us + std::llround(mean_n);
}

void SenderClock::on_sender_report(int64_t ntp_us, int64_t media_us) {
  if (count_ > 0) {
    const Report& last = reports_[static_cast<size_t>((next_ + kMaxReports - 1) % kMaxReports)];
    const bool backwards = ntp_us <= last.ntp_us || media_us <= last.media_us;
    const int64_t error = ntp_us - to_ntp_us(media_us);
    if (std::llabs(error) > kResetErrorUs) {
      // The sender's clock or stream jumped: start over from this report.
      count_ = 0;
      next_ = 0;
      correction_us_ = 0;
      ++resets_;
    } else if (backwards) {
      return;
    }
  }
  const bool had_mapping = count_ > 0;
  const int64_t before = had_mapping ? to_ntp_us(media_us) : 0;
  reports_[static_cast<size_t>(next_)] = Report{ntp_us, media_us};
  next_ = (next_ + 1) % kMaxReports;
  count_ = std::min(count_ + 1, kMaxReports);
  refit();
  correction_us_ = had_mapping ? before - fit_ntp(media_us) : 0;
  correction_media_ = media_us;
}

}  // namespace callrec::ingest
