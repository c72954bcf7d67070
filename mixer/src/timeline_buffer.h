// TimelineBuffer: one source's converted audio, addressed by call-timeline sample index.
//
// Holds 16 kHz mono float samples for the call-timeline interval [read_index(), end()).
// Storage is a power-of-two ring, allocated by the first write, that grows by doubling (so
// growth is amortised over pushes and never happens inside AudioMixer::mix()) and is freed
// only by release(). Samples behind the mix position are released by advance_to(); writes
// behind it are rejected as late.
//
// Silence is stored only up to kMaxStoredSilence. A write further past the buffered audio
// is kept aside as a run of its own (its samples only), and joins the ring once the mix
// position comes within that distance of it: a file whose timestamps jump nine hours ahead
// asked for 2 GiB of stored silence before.
//
// Threading: owned by one AudioMixer, used from its thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace callrec::mixer {

class TimelineBuffer {
 public:
  // Longest silence stored between writes (16 s of 16 kHz audio, 1 MiB of samples).
  static constexpr int64_t kMaxStoredSilence = int64_t{1} << 18;

  explicit TimelineBuffer(int64_t initial_capacity_samples = 16384);

  // Writes `samples` at timeline index `at`, at or after the last sample written. The
  // interval [end(), at) is silence. Samples before read_index() (already mixed) are not
  // stored; their count is returned.
  int64_t write(int64_t at, std::span<const float> samples);

  // Releases everything before `index` (the mix position moved on).
  void advance_to(int64_t index);

  // Drops all buffered audio; end() becomes read_index().
  void clear();
  // Frees the storage if nothing is buffered (positions are kept; a later write
  // allocates again). For a source whose input has ended.
  void release();

  int64_t read_index() const { return read_index_; }
  // One past the last written sample, or read_index() when nothing is buffered.
  int64_t end() const {
    if (!ahead_.empty()) return ahead_.back().start + static_cast<int64_t>(ahead_.back().samples.size());
    return end_ > read_index_ ? end_ : read_index_;
  }
  bool empty() const { return end_ <= read_index_ && ahead_.empty(); }

  // The stored part of [from, from + count) as at most two contiguous pieces (the ring
  // may wrap). `offset` is each piece's position relative to `from`. From read_index(),
  // `count` <= kMaxStoredSilence: a run kept aside is in the ring before it is read.
  struct Piece {
    int64_t offset = 0;
    std::span<const float> samples;
  };
  struct Pieces {
    Piece piece[2];
    int count = 0;
  };
  Pieces read(int64_t from, int64_t count) const;

  int64_t capacity() const { return static_cast<int64_t>(storage_.size()); }

 private:
  // A write more than kMaxStoredSilence past the ring's audio, not stored yet.
  struct Run {
    int64_t start;
    std::vector<float> samples;
  };

  // Writes into the ring (write() without the runs kept aside).
  int64_t store(int64_t at, std::span<const float> samples);
  void reserve_until(int64_t end_index);
  float* at(int64_t index) { return &storage_[static_cast<size_t>(index & mask_)]; }

  int64_t initial_capacity_;
  std::vector<float> storage_;  // empty until the first write, and after release()
  int64_t mask_ = 0;
  int64_t read_index_ = 0;  // first index still held
  int64_t end_ = 0;         // one past the last written index (may lag read_index_)
  std::deque<Run> ahead_;   // in order, each beyond kMaxStoredSilence of the one before
};

}  // namespace callrec::mixer
