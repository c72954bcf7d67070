// Flushing denormal floats to zero on the calling thread.
//
// Audio decays towards silence through filters (resampler history, decoder and
// encoder state): values far below anything audible (under 1e-38) become denormal,
// and on x86 every operation on one takes a microcode assist, a hundred times a
// normal one. Measured on the comparison's talking-head call: the mixer's resampling
// took 5.3 s instead of 0.24 s of CPU (docs/performance.md, section 2). Flushing them
// to zero changes nothing audible.
//
// Threading: the mode is per thread; the guard sets it for the thread that creates it
// and restores what that thread had when it goes (so an embedding application's own
// float arithmetic is left as it was).
#pragma once

#include <cstdint>

namespace callrec {

class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals();
  ~ScopedFlushDenormals();
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  uint64_t saved_;  // the thread's floating-point control register before
};

}  // namespace callrec
