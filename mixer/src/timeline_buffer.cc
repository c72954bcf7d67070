#include "timeline_buffer.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace callrec::mixer {

TimelineBuffer::TimelineBuffer(int64_t initial_capacity_samples)
    : initial_capacity_(
          static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(std::max<int64_t>(initial_capacity_samples, 1024))))) {}

void TimelineBuffer::reserve_until(int64_t end_index) {
  const int64_t needed = end_index - read_index_;
  if (needed <= capacity()) return;
  // Grow by doubling and copy the live interval into its new ring positions.
  const auto new_capacity = std::bit_ceil(static_cast<uint64_t>(std::max(needed, initial_capacity_)));
  std::vector<float> grown(new_capacity, 0.0f);
  const int64_t new_mask = static_cast<int64_t>(new_capacity) - 1;
  for (int64_t i = read_index_; i < end_; ++i) {
    grown[static_cast<size_t>(i & new_mask)] = storage_[static_cast<size_t>(i & mask_)];
  }
  storage_ = std::move(grown);
  mask_ = new_mask;
}

int64_t TimelineBuffer::write(int64_t at_index, std::span<const float> samples) {
  assert(at_index >= (ahead_.empty() ? end_ : end()));
  // end() is the last run's end while runs are kept aside, else the ring's (or the mix
  // position, whichever is later).
  if (at_index - end() > kMaxStoredSilence) {
    ahead_.push_back(Run{at_index, std::vector<float>(samples.begin(), samples.end())});
    return 0;
  }
  if (!ahead_.empty()) {
    Run& last = ahead_.back();
    last.samples.resize(static_cast<size_t>(at_index - last.start), 0.0f);
    last.samples.insert(last.samples.end(), samples.begin(), samples.end());
    return 0;
  }
  return store(at_index, samples);
}

int64_t TimelineBuffer::store(int64_t at_index, std::span<const float> samples) {
  assert(at_index >= end_);
  int64_t dropped = 0;
  if (at_index < read_index_) {
    dropped = std::min<int64_t>(read_index_ - at_index, static_cast<int64_t>(samples.size()));
    samples = samples.subspan(static_cast<size_t>(dropped));
    at_index += dropped;
  }
  if (end_ < read_index_) end_ = read_index_;
  const int64_t new_end = at_index + static_cast<int64_t>(samples.size());
  reserve_until(std::max(new_end, at_index));
  for (; end_ < at_index; ++end_) *at(end_) = 0.0f;  // silence for the gap
  // Copy in at most two runs (the ring may wrap).
  size_t done = 0;
  while (done < samples.size()) {
    const int64_t pos = end_ & mask_;
    const size_t run = std::min<size_t>(samples.size() - done, static_cast<size_t>(capacity() - pos));
    std::copy_n(samples.data() + done, run, &storage_[static_cast<size_t>(pos)]);
    done += run;
    end_ += static_cast<int64_t>(run);
  }
  return dropped;
}

void TimelineBuffer::advance_to(int64_t index) {
  read_index_ = std::max(read_index_, index);
  while (!ahead_.empty() && ahead_.front().start - std::max(end_, read_index_) <= kMaxStoredSilence) {
    const Run run = std::move(ahead_.front());
    ahead_.pop_front();
    store(run.start, run.samples);
  }
}

void TimelineBuffer::clear() {
  end_ = read_index_;
  ahead_.clear();
}

void TimelineBuffer::release() {
  if (storage_.empty() || !empty()) return;
  std::vector<float>().swap(storage_);
  mask_ = 0;
}

TimelineBuffer::Pieces TimelineBuffer::read(int64_t from, int64_t count) const {
  Pieces out;
  int64_t begin = std::max(from, read_index_);
  const int64_t stop = std::min(from + count, end_);
  while (begin < stop && out.count < 2) {
    const int64_t pos = begin & mask_;
    const int64_t run = std::min(stop - begin, capacity() - pos);
    out.piece[out.count++] = Piece{begin - from, std::span<const float>(&storage_[static_cast<size_t>(pos)],
                                                                        static_cast<size_t>(run))};
    begin += run;
  }
  return out;
}

}  // namespace callrec::mixer
