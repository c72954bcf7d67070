// Clocks: where a live component (a session's output, later the network ingest) reads
// the time, so that tests and fuzzers can run it in virtual time.
//
//   RealClock     std::chrono::steady_clock (monotonic) and the system clock (UTC). What
//                 runs on it keeps its own thread and sleeps until it is due.
//   VirtualClock  time that moves only when its owner calls advance_to(). What runs on it
//                 registers a Timer and is run by advance_to(), on the calling thread,
//                 at each instant it is due: no thread, no sleep, the same result on a
//                 loaded machine as on an idle one.
//
// Threading: now() and wall_now() may be called from any thread. See VirtualClock for
// who may advance it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "callrec/core/media_time.h"
#include "callrec/core/wall_clock.h"

namespace callrec {

class VirtualClock;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time (microseconds) since the clock's own origin; never goes back.
  virtual MediaTime now() const = 0;
  // Wall-clock time (UTC) now: what a recording reports as its start time.
  virtual WallClock wall_now() const = 0;
  // The clock as a VirtualClock, when it is one: what runs on it is then driven by its
  // advance_to() instead of keeping a thread of its own.
  virtual VirtualClock* as_virtual() { return nullptr; }
};

class RealClock final : public Clock {
 public:
  MediaTime now() const override;
  WallClock wall_now() const override;
  // One shared instance (it has no state).
  static std::shared_ptr<RealClock> instance();
};

// Virtual time. now() starts at 0 and wall_now() at `wall_origin`; both move only in
// advance_to().
//
// Threading: advance_to() runs timers on the calling thread; calls from several threads
// are serialised (one advance at a time). add_timer()/remove_timer() may be called from
// any thread; remove_timer() waits for an advance running on another thread to finish,
// so a timer's owner can be destroyed safely once it has removed it. A timer's fire()
// must not call advance_to() (it is already inside one).
class VirtualClock final : public Clock {
 public:
  // Something that runs in virtual time (a live session's output driver).
  class Timer {
   public:
    virtual ~Timer() = default;
    // When it next wants to run; nullopt while it has nothing to do. Asked again after
    // every fire() of any timer, on the advancing thread.
    virtual std::optional<MediaTime> due() const = 0;
    // Runs at virtual time `now` (at or after due()). Afterwards due() must be later
    // than `now`, or nullopt, unless something new was handed to it meanwhile.
    virtual void fire(MediaTime now) = 0;
  };

  // 2026-01-01T00:00:00Z: a fixed origin, so recordings made in virtual time carry the
  // same timestamps on every run.
  static constexpr WallClock kDefaultWallOrigin{1'767'225'600'000'000};

  explicit VirtualClock(WallClock wall_origin = kDefaultWallOrigin) : wall_origin_(wall_origin) {}

  MediaTime now() const override { return MediaTime::from_us(now_us_.load(std::memory_order_acquire)); }
  WallClock wall_now() const override { return WallClock{wall_origin_.unix_us + now().us()}; }
  VirtualClock* as_virtual() override { return this; }

  // Moves time forward to `t` (never back), stopping at each instant a timer is due on
  // the way and firing it there; timers due at the same instant fire in the order they
  // were added. Timers already due at now() fire first, so advance_to(now()) runs what
  // is due without moving time.
  void advance_to(MediaTime t);
  void advance(MediaTime by) { advance_to(now() + by); }

  void add_timer(Timer& timer);
  void remove_timer(Timer& timer);

 private:
  const WallClock wall_origin_;
  std::atomic<int64_t> now_us_{0};
  // Held while advancing and while the timer list changes; recursive so a timer may add
  // or remove timers from inside fire().
  std::recursive_mutex mu_;
  std::vector<Timer*> timers_;  // guarded by mu_
};

}  // namespace callrec
