// Clock: where the ingest reads "now" for every datagram's arrival. Its timeline is the
// caller's: capture times come out on it (an engine session passes one whose now() is
// the session's call time). Injectable, so tests run in virtual time.
#pragma once

#include <chrono>

#include "callrec/core/media_time.h"

namespace callrec::ingest {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic. Called from the ingest's network thread.
  virtual MediaTime now() const = 0;
};

// std::chrono::steady_clock, 0 at `origin` (default: construction).
class SteadyClock final : public Clock {
 public:
  explicit SteadyClock(std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now())
      : origin_(origin) {}
  MediaTime now() const override {
    return MediaTime::from_us(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - origin_).count());
  }

 private:
  std::chrono::steady_clock::time_point origin_;
};

}  // namespace callrec::ingest
