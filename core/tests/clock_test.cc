#include "callrec/core/clock.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace callrec {
namespace {

// Fires at each of `times` (microseconds) in turn, noting when it ran.
class ListTimer final : public VirtualClock::Timer {
 public:
  ListTimer(std::string name, std::vector<int64_t> times, std::vector<std::string>* log)
      : name_(std::move(name)), times_(std::move(times)), log_(log) {}
  std::optional<MediaTime> due() const override {
    if (next_ >= times_.size()) return std::nullopt;
    return MediaTime::from_us(times_[next_]);
  }
  void fire(MediaTime now) override {
    log_->push_back(name_ + "@" + std::to_string(now.us()));
    ++next_;
  }

 private:
  std::string name_;
  std::vector<int64_t> times_;
  std::vector<std::string>* log_;
  size_t next_ = 0;
};

TEST(VirtualClock, FiresEachTimerAtItsInstantInTimeOrder) {
  VirtualClock clock(WallClock{1'000'000});
  std::vector<std::string> log;
  ListTimer a("a", {0, 250, 1000}, &log), b("b", {250, 600}, &log);
  clock.add_timer(a);
  clock.add_timer(b);
  EXPECT_EQ(clock.now().us(), 0);
  clock.advance_to(MediaTime::from_us(600));
  EXPECT_EQ(log, (std::vector<std::string>{"a@0", "a@250", "b@250", "b@600"}));
  EXPECT_EQ(clock.now().us(), 600);
  EXPECT_EQ(clock.wall_now().unix_us, 1'000'600);
  clock.advance(MediaTime::from_ms(1));
  EXPECT_EQ(log.back(), "a@1000");
  EXPECT_EQ(clock.now().us(), 1600);
}

TEST(VirtualClock, NeverGoesBackAndFiresLateTimersAtNow) {
  VirtualClock clock;
  std::vector<std::string> log;
  clock.advance_to(MediaTime::from_ms(5));
  clock.advance_to(MediaTime::from_ms(2));
  EXPECT_EQ(clock.now().ms(), 5);
  ListTimer late("late", {1000}, &log);  // due before it was added
  clock.add_timer(late);
  clock.advance_to(clock.now());
  EXPECT_EQ(log, (std::vector<std::string>{"late@5000"}));
  clock.remove_timer(late);
}

TEST(VirtualClock, RemovedTimersNoLongerFire) {
  VirtualClock clock;
  std::vector<std::string> log;
  ListTimer a("a", {10, 20}, &log);
  clock.add_timer(a);
  clock.advance_to(MediaTime::from_us(15));
  clock.remove_timer(a);
  clock.advance_to(MediaTime::from_us(30));
  EXPECT_EQ(log, (std::vector<std::string>{"a@10"}));
}

TEST(RealClock, IsMonotonic) {
  const auto clock = RealClock::instance();
  const MediaTime a = clock->now();
  const MediaTime b = clock->now();
  EXPECT_LE(a, b);
  EXPECT_GT(clock->wall_now().unix_us, VirtualClock::kDefaultWallOrigin.unix_us - int64_t{1'000'000} * 86400 * 365);
}

}  // namespace
}  // namespace callrec
