// StageClock: where the process's CPU time goes, stage by stage.
//
// The owner calls enter(stage) whenever its thread switches to another stage; the CPU
// time that thread used since the previous switch is charged to the stage that was
// running. Work on other threads (the writer's encode worker and x264's own threads,
// which run while this thread goes on) cannot be split by stage from here: settle()
// charges everything the process used beyond this thread to one stage named at
// construction. Costs one clock_gettime per switch, so it is cheap enough to leave on
// for a render, not for per-sample work.
//
// Threading: used from one thread (the render thread).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace callrec {

enum class Stage { kDecode, kMix, kComposite, kEncodeMux, kEngine, kCount };

std::string_view stage_name(Stage stage);

class StageClock {
 public:
  // `other_threads`: the stage charged with the CPU time of the process's other threads.
  explicit StageClock(Stage other_threads = Stage::kEncodeMux);
  // Charges the CPU time since the last switch to the current stage and makes `stage`
  // current. Returns the stage that was current, for a scoped switch back.
  Stage enter(Stage stage);
  // Charges the time up to now, the other threads' included; totals are then complete.
  void settle();

  int64_t cpu_ns(Stage stage) const { return cpu_ns_[static_cast<size_t>(stage)]; }
  int64_t total_cpu_ns() const;

 private:
  std::array<int64_t, static_cast<size_t>(Stage::kCount)> cpu_ns_{};
  int64_t other_threads_ns_ = 0;  // of cpu_ns_[other_threads_], charged by settle()
  Stage other_threads_;
  Stage current_ = Stage::kEngine;
  int64_t last_ns_;
  int64_t process_start_ns_;
};

// Enters `stage` for the scope, then returns to the previous one. A null clock does nothing.
class StageScope {
 public:
  StageScope(StageClock* clock, Stage stage) : clock_(clock), previous_(clock ? clock->enter(stage) : stage) {}
  ~StageScope() {
    if (clock_) clock_->enter(previous_);
  }
  StageScope(const StageScope&) = delete;
  StageScope& operator=(const StageScope&) = delete;

 private:
  StageClock* clock_;
  Stage previous_;
};

}  // namespace callrec
