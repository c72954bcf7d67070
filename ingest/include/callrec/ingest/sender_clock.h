// SenderClock: one RTP stream's mapping from its media time (RTP timestamps, extended
// and in microseconds of the nominal clock rate) to the sender's NTP wall clock, fitted
// to its RTCP sender reports.
//
// The last kMaxReports reports are fitted with a least-squares line, so the sender's
// RTP clock may run fast or slow against its wall clock (a sound card at 48 003 Hz)
// without the mapping drifting; the slope is held at 1 until the reports span
// kMinFitSpanUs, and limited to ±kMaxRateError. When a new report moves the mapping, the
// step is not taken at once: the difference is carried and shrinks by kSlewRate of the
// media time that follows (1 ms per second), so placement moves smoothly. A report more
// than kResetErrorUs off the fit (the sender's clock was stepped, or the stream restarted)
// starts a fresh fit from it. Reports that go backwards, or repeat one, are ignored.
//
// Threading: one owner thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace callrec::ingest {

class SenderClock {
 public:
  static constexpr int kMaxReports = 8;
  static constexpr int64_t kMinFitSpanUs = 2'000'000;
  static constexpr double kMaxRateError = 0.005;
  static constexpr int64_t kResetErrorUs = 100'000;
  static constexpr double kSlewRate = 0.001;

  void on_sender_report(int64_t ntp_us, int64_t media_us);
  bool has_mapping() const { return count_ > 0; }
  // The sender's wall-clock time (µs, NTP epoch) of media time `media_us`. Requires
  // has_mapping().
  int64_t to_ntp_us(int64_t media_us) const;

  int reports_in_fit() const { return count_; }
  int64_t resets() const { return resets_; }
  // Slope of the fit: sender media seconds per wall-clock second.
  double rate() const { return 1.0 / slope_; }

 private:
  int64_t fit_ntp(int64_t media_us) const;
  void refit();

  struct Report {
    int64_t ntp_us;
    int64_t media_us;
  };
  std::array<Report, kMaxReports> reports_{};
  int count_ = 0;
  int next_ = 0;
  // The fitted line: ntp = anchor_ntp_ + slope_ * (media - anchor_media_).
  int64_t anchor_media_ = 0;
  int64_t anchor_ntp_ = 0;
  double slope_ = 1.0;
  // What is left of a refit's step, measured at correction_media_.
  int64_t correction_us_ = 0;
  int64_t correction_media_ = 0;
  int64_t resets_ = 0;
};

}  // namespace callrec::ingest
