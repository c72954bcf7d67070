// ReorderBuffer: one SSRC's packets back in sequence order, duplicates removed.
//
// Packets go in with their extended sequence number (SequenceUnwrapper) and arrival
// time; they come out in order. A packet that fills the next expected number goes out at
// once, with every held packet that follows it. After a gap, held packets wait for the
// missing ones for at most `max_wait`; then the missing numbers are declared lost and
// the release goes on (`lost_before` on the next packet out). A full buffer releases
// early the same way. A packet whose number was already released or is already held is
// dropped (duplicate, or arrived after its gap was given up: late).
//
// Storage: `capacity` slots allocated once; each slot's byte buffer grows to the largest
// packet it held and is reused, so steady state allocates nothing.
// Threading: one owner thread; not synchronised.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace callrec::ingest {

struct ReleasedPacket {
  int64_t extended_sequence;
  std::span<const uint8_t> bytes;  // valid during the callback only
  int64_t arrival_us;
  int64_t lost_before;  // sequence numbers given up just before this one
};

class ReorderBuffer {
 public:
  enum class Insert { kAccepted, kDuplicate, kLate };

  // `capacity` is rounded up to a power of two (at least 2).
  ReorderBuffer(int capacity, int64_t max_wait_us);

  // Stores the packet and releases whatever is ready through emit(const ReleasedPacket&).
  template <typename Emit>
  Insert insert(int64_t extended_sequence, std::span<const uint8_t> bytes, int64_t arrival_us, Emit&& emit);
  // Releases held packets whose wait is over at `now_us`.
  template <typename Emit>
  void poll(int64_t now_us, Emit&& emit);
  // Releases everything held, declaring the gaps lost (end of a segment).
  template <typename Emit>
  void flush(Emit&& emit);

  // When poll() next has something to do, if anything is held.
  std::optional<int64_t> next_deadline_us() const;
  // Forgets everything (a new segment starts with its first packet).
  void reset();

  int held() const { return held_; }
  std::optional<int64_t> next_expected() const { return next_; }

 private:
  struct Slot {
    bool used = false;
    int64_t extended_sequence = 0;
    int64_t arrival_us = 0;
    std::vector<uint8_t> bytes;
  };
  Slot& slot(int64_t seq) { return slots_[static_cast<size_t>(seq & mask_)]; }
  // Releases from next_ while the slot is filled; when `give_up_until_us` is set, gaps
  // whose first held packet arrived at or before it are skipped.
  template <typename Emit>
  void release(Emit&& emit, std::optional<int64_t> give_up_until_us, bool force);
  // Lowest held sequence number above next_ (held_ > 0).
  int64_t first_held() const;

  std::vector<Slot> slots_;
  int64_t mask_;
  int64_t max_wait_us_;
  std::optional<int64_t> next_;  // next sequence number to release
  int held_ = 0;
  int64_t pending_lost_ = 0;
};

template <typename Emit>
ReorderBuffer::Insert ReorderBuffer::insert(int64_t seq, std::span<const uint8_t> bytes, int64_t arrival_us,
                                            Emit&& emit) {
  if (!next_) next_ = seq;
  if (seq < *next_) return Insert::kLate;
  const int64_t capacity = mask_ + 1;
  if (seq - *next_ >= capacity) {
    // Too far ahead to hold with what is missing: give up the gap up to where it fits.
    release(emit, std::nullopt, true);
    while (seq - *next_ >= capacity) {
      // Nothing is held any more (release() emptied the buffer up to the first hole).
      if (held_ == 0) {
        pending_lost_ += seq - *next_;
        next_ = seq;
        break;
      }
      release(emit, std::nullopt, true);
    }
  }
  Slot& s = slot(seq);
  if (s.used) return Insert::kDuplicate;
  s.used = true;
  s.extended_sequence = seq;
  s.arrival_us = arrival_us;
  s.bytes.assign(bytes.begin(), bytes.end());
  ++held_;
  release(emit, std::nullopt, false);
  return Insert::kAccepted;
}

template <typename Emit>
void ReorderBuffer::poll(int64_t now_us, Emit&& emit) {
  release(emit, now_us - max_wait_us_, false);
}

template <typename Emit>
void ReorderBuffer::flush(Emit&& emit) {
  while (held_ > 0) release(emit, std::nullopt, true);
}

template <typename Emit>
void ReorderBuffer::release(Emit&& emit, std::optional<int64_t> give_up_until_us, bool force) {
  while (held_ > 0) {
    Slot& s = slot(*next_);
    if (s.used && s.extended_sequence == *next_) {
      s.used = false;
      --held_;
      const int64_t lost = pending_lost_;
      pending_lost_ = 0;
      ++*next_;
      emit(ReleasedPacket{s.extended_sequence, s.bytes, s.arrival_us, lost});
      continue;
    }
    // A hole at next_: give it up when forced, full, or the first packet after it has
    // waited long enough.
    const int64_t first = first_held();
    const bool full = held_ >= mask_ + 1;
    const bool waited = give_up_until_us && slot(first).arrival_us <= *give_up_until_us;
    if (!force && !full && !waited) return;
    pending_lost_ += first - *next_;
    next_ = first;
    force = false;  // one gap per forced call; the loop releases what follows it
  }
}

}  // namespace callrec::ingest
