#include "callrec/core/media_time.h"

extern "C" {
#include <libavutil/mathematics.h>
}

namespace callrec {
namespace {
AVRational av(Rational r) { return AVRational{r.num, r.den}; }
}  // namespace

MediaTime MediaTime::rescaled(Rational time_base) const {
  if (time_base == time_base_) return *this;
  return MediaTime(av_rescale_q(ticks_, av(time_base_), av(time_base)), time_base);
}

int64_t MediaTime::ticks_floor(Rational time_base) const {
  return av_rescale_q_rnd(ticks_, av(time_base_), av(time_base), AV_ROUND_DOWN);
}

MediaTime MediaTime::operator+(const MediaTime& other) const {
  return MediaTime(ticks_ + other.rescaled(time_base_).ticks(), time_base_);
}

MediaTime MediaTime::operator-(const MediaTime& other) const {
  return MediaTime(ticks_ - other.rescaled(time_base_).ticks(), time_base_);
}

std::strong_ordering MediaTime::operator<=>(const MediaTime& other) const {
  const int c = av_compare_ts(ticks_, av(time_base_), other.ticks_, av(other.time_base_));
  if (c < 0) return std::strong_ordering::less;
  if (c > 0) return std::strong_ordering::greater;
  return std::strong_ordering::equal;
}

}  // namespace callrec
