// Where a stream in decode order can be cut: after a group of packets that, with the
// packets before, shows every picture up to the latest one. Without B-frames every
// packet is a group; with them a reference picture comes before the B-frames shown
// ahead of it, and the three (with two B-frames) form one group.
//
// Used by the writer (a chunk ends only between groups) and the remux (a cut file is
// copied up to its last complete group). Pictures are numbered from 0 in presentation
// order; every number must come exactly once.
#pragma once

#include <algorithm>
#include <cstdint>

namespace callrec::muxer {

class PictureGroups {
 public:
  // Takes the next packet, which shows picture `picture`; true when it completes a group.
  bool add(int64_t picture) {
    ++packets_;
    end_ = std::max(end_, picture + 1);
    if (complete_ + packets_ != end_) return false;
    complete_ = end_;
    packets_ = 0;
    return true;
  }

  // Pictures shown by the complete groups.
  int64_t complete() const { return complete_; }

 private:
  int64_t complete_ = 0;
  int64_t packets_ = 0;
  int64_t end_ = 0;  // one past the latest picture taken
};

}  // namespace callrec::muxer
