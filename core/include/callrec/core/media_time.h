// Media time: integer ticks in a rational time base.
//
// The one type for every timestamp that is kept. It has no default constructor and
// no implicit conversions; converting between time bases rounds to nearest with
// 64-bit integer math (av_rescale_q), never through floating point.
#pragma once

#include <compare>
#include <cstdint>

namespace callrec {

struct Rational {
  int num;
  int den;
  friend bool operator==(const Rational&, const Rational&) = default;
};

inline constexpr Rational kMicroseconds{1, 1'000'000};
inline constexpr Rational kMilliseconds{1, 1'000};

class MediaTime {
 public:
  constexpr MediaTime(int64_t ticks, Rational time_base) : ticks_(ticks), time_base_(time_base) {}

  static constexpr MediaTime from_us(int64_t us) { return MediaTime(us, kMicroseconds); }
  static constexpr MediaTime from_ms(int64_t ms) { return MediaTime(ms, kMilliseconds); }

  constexpr int64_t ticks() const { return ticks_; }
  constexpr Rational time_base() const { return time_base_; }

  // Same instant in another time base, rounded to the nearest tick.
  MediaTime rescaled(Rational time_base) const;
  // Ticks in another time base, rounded down (towards -infinity).
  int64_t ticks_floor(Rational time_base) const;
  int64_t us() const { return rescaled(kMicroseconds).ticks(); }
  int64_t ms() const { return rescaled(kMilliseconds).ticks(); }

  // Sum and difference take the left operand's time base.
  MediaTime operator+(const MediaTime& other) const;
  MediaTime operator-(const MediaTime& other) const;

  // Exact comparison across time bases (no rounding).
  std::strong_ordering operator<=>(const MediaTime& other) const;
  bool operator==(const MediaTime& other) const { return (*this <=> other) == 0; }

 private:
  int64_t ticks_;
  Rational time_base_;
};

}  // namespace callrec
