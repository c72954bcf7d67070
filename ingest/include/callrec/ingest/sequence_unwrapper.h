// Unwrapper: extends RTP's wrapping counters (16-bit sequence numbers, 32-bit
// timestamps) to 64 bits, by taking each value as the one nearest to the last seen.
//
// The first value is taken as is (sequence 65535 -> 65535). A value more than half the
// counter's range behind the last one is read as ahead of it (wrap-around), so the two
// readings are consistent as long as packets are less than half a range apart, as
// RFC 3550 A.1 assumes. Every value moves the reference, also an older one.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>

namespace callrec::ingest {

template <typename Counter>
class Unwrapper {
  static_assert(std::is_unsigned_v<Counter> && sizeof(Counter) <= 4);
  using Signed = std::make_signed_t<Counter>;

 public:
  // The extended value of `value`, and it becomes the reference.
  int64_t unwrap(Counter value) {
    last_ = peek(value);
    return *last_;
  }
  // The extended value of `value`, without moving the reference.
  int64_t peek(Counter value) const {
    if (!last_) return value;
    const auto delta = static_cast<Signed>(static_cast<Counter>(value - static_cast<Counter>(*last_)));
    return *last_ + delta;
  }
  std::optional<int64_t> last() const { return last_; }
  void reset() { last_.reset(); }

 private:
  std::optional<int64_t> last_;
};

using SequenceUnwrapper = Unwrapper<uint16_t>;
using TimestampUnwrapper = Unwrapper<uint32_t>;

}  // namespace callrec::ingest
