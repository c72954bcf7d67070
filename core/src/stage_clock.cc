#include "callrec/core/stage_clock.h"

#include <time.h>

namespace callrec {
namespace {
int64_t process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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

StageClock::StageClock() : last_ns_(process_cpu_ns()) {}

Stage StageClock::enter(Stage stage) {
  const int64_t now = process_cpu_ns();
  cpu_ns_[static_cast<size_t>(current_)] += now - last_ns_;
  last_ns_ = now;
  const Stage previous = current_;
  current_ = stage;
  return previous;
}

void StageClock::settle() { enter(current_); }

int64_t StageClock::total_cpu_ns() const {
  int64_t total = 0;
  for (int64_t ns : cpu_ns_) total += ns;
  return total;
}

}  // namespace callrec
