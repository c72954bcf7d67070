#include "callrec/core/denormals.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace callrec {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// MXCSR: flush-to-zero (results) and denormals-are-zero (inputs).
constexpr unsigned kFlushBits = 0x8000 | 0x0040;
uint64_t read_mode() { return _mm_getcsr(); }
void write_mode(uint64_t mode) { _mm_setcsr(static_cast<unsigned>(mode)); }
uint64_t flushing(uint64_t mode) { return mode | kFlushBits; }
#elif defined(__aarch64__)
// FPCR.FZ (bit 24) flushes both inputs and results.
uint64_t read_mode() {
  uint64_t fpcr;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
  return fpcr;
}
void write_mode(uint64_t mode) { __asm__ __volatile__("msr fpcr, %0" : : "r"(mode)); }
uint64_t flushing(uint64_t mode) { return mode | (uint64_t{1} << 24); }
#else
uint64_t read_mode() { return 0; }
void write_mode(uint64_t) {}
uint64_t flushing(uint64_t mode) { return mode; }
#endif

}  // namespace

ScopedFlushDenormals::ScopedFlushDenormals() : saved_(read_mode()) {
  const uint64_t wanted = flushing(saved_);
  if (wanted != saved_) write_mode(wanted);
}

ScopedFlushDenormals::~ScopedFlushDenormals() {
  if (read_mode() != saved_) write_mode(saved_);
}

}  // namespace callrec
