// StageClock: where the process's CPU time goes, stage by stage.
//
// The owner calls enter(stage) whenever work switches to another stage; the CPU time the
// whole process used since the previous switch (all threads: encoder worker threads
// included, since they work while the engine waits for them) is charged to the stage
// that was running. Costs two clock_gettime calls per switch, so it is cheap enough to
// leave on for a render, not for per-sample work.
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
  StageClock();
  // Charges the CPU time since the last switch to the current stage and makes `stage`
  // current. Returns the stage that was current, for a scoped switch back.
  Stage enter(Stage stage);
  // Charges the time up to now; totals are then complete.
  void settle();

  int64_t cpu_ns(Stage stage) const { return cpu_ns_[static_cast<size_t>(stage)]; }
  int64_t total_cpu_ns() const;

 private:
  std::array<int64_t, static_cast<size_t>(Stage::kCount)> cpu_ns_{};
  Stage current_ = Stage::kEngine;
  int64_t last_ns_;
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
