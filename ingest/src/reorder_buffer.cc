#include "callrec/ingest/reorder_buffer.h"

#include <algorithm>
#include <limits>

namespace callrec::ingest {

ReorderBuffer::ReorderBuffer(int capacity, int64_t max_wait_us) : max_wait_us_(max_wait_us) {
  int64_t size = 2;
  while (size < capacity) size *= 2;
  slots_.resize(static_cast<size_t>(size));
  mask_ = size - 1;
}

int64_t ReorderBuffer::first_held() const {
  int64_t best = std::numeric_limits<int64_t>::max();
  const int64_t capacity = mask_ + 1;
  for (int64_t seq = *next_; seq < *next_ + capacity; ++seq) {
    const Slot& s = slots_[static_cast<size_t>(seq & mask_)];
    if (s.used && s.extended_sequence == seq) return seq;
  }
  return best;
}

std::optional<int64_t> ReorderBuffer::next_deadline_us() const {
  if (held_ == 0) return std::nullopt;
  return slots_[static_cast<size_t>(first_held() & mask_)].arrival_us + max_wait_us_;
}

void ReorderBuffer::reset() {
  for (Slot& s : slots_) s.used = false;
  held_ = 0;
  next_.reset();
  pending_lost_ = 0;
}

}  // namespace callrec::ingest
