#include "callrec/core/clock.h"

#include <algorithm>
#include <chrono>

namespace callrec {

MediaTime RealClock::now() const {
  const auto since_origin = std::chrono::steady_clock::now().time_since_epoch();
  return MediaTime::from_us(std::chrono::duration_cast<std::chrono::microseconds>(since_origin).count());
}

WallClock RealClock::wall_now() const { return wall_clock_now(); }

std::shared_ptr<RealClock> RealClock::instance() {
  static const std::shared_ptr<RealClock> clock = std::make_shared<RealClock>();
  return clock;
}

void VirtualClock::advance_to(MediaTime t) {
  const std::lock_guard lock(mu_);
  const int64_t target_us = std::max(t.us(), now_us_.load(std::memory_order_relaxed));
  for (;;) {
    // The earliest due timer at or before the target (the first added on ties).
    Timer* next = nullptr;
    int64_t next_us = 0;
    for (Timer* timer : timers_) {
      const std::optional<MediaTime> due = timer->due();
      if (!due) continue;
      const int64_t due_us = std::max(due->us(), now_us_.load(std::memory_order_relaxed));
      if (due_us > target_us) continue;
      if (next == nullptr || due_us < next_us) {
        next = timer;
        next_us = due_us;
      }
    }
    if (next == nullptr) break;
    now_us_.store(next_us, std::memory_order_release);
    next->fire(MediaTime::from_us(next_us));
  }
  now_us_.store(target_us, std::memory_order_release);
}

void VirtualClock::add_timer(Timer& timer) {
  const std::lock_guard lock(mu_);
  timers_.push_back(&timer);
}

void VirtualClock::remove_timer(Timer& timer) {
  const std::lock_guard lock(mu_);
  std::erase(timers_, &timer);
}

}  // namespace callrec
