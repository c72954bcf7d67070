#include "callrec/core/stage_clock.h"

#include <time.h>

namespace callrec {
namespace {
int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

std::string_view stage_name(Stage stage) {
  switch (stage) {
    case Stage::kDecode: return "demux+decode";
    case Stage::kMix: return "mix";
    case Stage::kComposite: return "composite";
    case Stage::kEncodeMux: return "encode+mux";
    case Stage::kEngine: return "engine";
    case Stage::kCount: break;
  }
  return "?";
}

StageClock::StageClock(Stage other_threads)
    : other_threads_(other_threads),
      last_ns_(clock_ns(CLOCK_THREAD_CPUTIME_ID)),
      process_start_ns_(clock_ns(CLOCK_PROCESS_CPUTIME_ID)) {}

Stage StageClock::enter(Stage stage) {
  const int64_t now = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  cpu_ns_[static_cast<size_t>(current_)] += now - last_ns_;
  last_ns_ = now;
  const Stage previous = current_;
  current_ = stage;
  return previous;
}

void StageClock::settle() {
  enter(current_);
  const int64_t own = total_cpu_ns() - other_threads_ns_;
  // Everything the process used that this thread did not: the other threads' share.
  const int64_t others = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - process_start_ns_ - own;
  cpu_ns_[static_cast<size_t>(other_threads_)] += others - other_threads_ns_;
  other_threads_ns_ = others;
}

int64_t StageClock::total_cpu_ns() const {
  int64_t total = 0;
  for (int64_t ns : cpu_ns_) total += ns;
  return total;
}

}  // namespace callrec
