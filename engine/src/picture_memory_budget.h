// PictureMemoryBudget: a bound on the memory a video decoder's pictures hold at once.
//
// The picture-size limit alone does not bound it. A decoder keeps up to 16 reference
// pictures and those waiting to be shown, and a picture's bytes depend on its format:
// 4:4:4 at 10 bits is four times 4:2:0 at 8. A 120 kB H.264 file declaring 8192x4320,
// 4:4:4 10-bit and 16 references made a render hold 3.8 GB of memory.
//
// Installed on a decoder (as its get_buffer2), the budget counts the bytes of every
// picture buffer the decoder has handed out and not yet got back: its references, its
// reorder queue, and pictures a caller still holds. A new picture that would take the
// count past the limit is refused (the decoder fails that frame with ENOMEM) and the
// refusal is described for the caller to report.
//
// Threading: installed and refused on the decoder's thread. The count is atomic: a
// picture may be released on another thread (a queued picture, by the compositor).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

extern "C" {
struct AVCodecContext;
struct AVFrame;
}

namespace callrec::engine {

class PictureMemoryBudget : public std::enable_shared_from_this<PictureMemoryBudget> {
 public:
  // Installs a budget of `max_bytes` as `decoder`'s get_buffer2 (decoder.opaque points to
  // it; frame threading is turned off, slice threads stay allowed). The caller keeps the returned pointer for as long as the decoder lives; each
  // picture handed out keeps it alive for as long as the picture lives.
  static std::shared_ptr<PictureMemoryBudget> install(AVCodecContext& decoder, int64_t max_bytes);

  explicit PictureMemoryBudget(int64_t max_bytes) : max_bytes_(max_bytes) {}

  int64_t held_bytes() const { return held_bytes_.load(std::memory_order_relaxed); }
  int64_t peak_bytes() const { return peak_bytes_; }
  // Why the last picture was refused ("the decoder's 8192x4320 yuv444p10le pictures
  // (203 MiB each) would take more than the 512 MiB a video decoder may hold"), once;
  // nullopt if none was.
  std::optional<std::string> take_refusal();

 private:
  static int get_buffer(AVCodecContext* decoder, AVFrame* frame, int flags);
  static void release(void* opaque, uint8_t* data);

  const int64_t max_bytes_;
  std::atomic<int64_t> held_bytes_{0};
  int64_t peak_bytes_ = 0;  // decoder thread only
  std::optional<std::string> refusal_;
};

}  // namespace callrec::engine
