#include "picture_memory_budget.h"

#include <algorithm>
#include <cerrno>
#include <new>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace callrec::engine {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// One buffer of a picture, handed out wrapped: releasing the wrapper gives the decoder's
// own buffer back (to its pool) and the bytes back to the budget.
struct HeldBuffer {
  std::shared_ptr<PictureMemoryBudget> budget;
  AVBufferRef* buffer;
};

std::string mib(int64_t bytes) { return std::to_string((bytes + kMiB - 1) / kMiB) + " MiB"; }

}  // namespace

std::shared_ptr<PictureMemoryBudget> PictureMemoryBudget::install(AVCodecContext& decoder, int64_t max_bytes) {
  auto budget = std::make_shared<PictureMemoryBudget>(max_bytes);
  decoder.opaque = budget.get();
  decoder.get_buffer2 = &PictureMemoryBudget::get_buffer;
  // The callback runs on the decoding thread: no frame threads (callrec decodes each
  // stream on one thread anyway).
  decoder.thread_type = FF_THREAD_SLICE;
  return budget;
}

std::optional<std::string> PictureMemoryBudget::take_refusal() {
  std::optional<std::string> r = std::move(refusal_);
  refusal_.reset();
  return r;
}

int PictureMemoryBudget::get_buffer(AVCodecContext* decoder, AVFrame* frame, int flags) {
  auto* self = static_cast<PictureMemoryBudget*>(decoder->opaque);
  const auto refuse = [&](int64_t bytes) {
    const char* format = av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format));
    try {  // nothing may throw through libavcodec
      self->refusal_ = "the decoder's " + std::to_string(decoder->width) + "x" + std::to_string(decoder->height) +
                       " " + (format != nullptr ? format : "?") + " pictures (" + mib(bytes) +
                       " each) would take more than the " + mib(self->max_bytes_) + " a video decoder may hold";
    } catch (const std::bad_alloc&) {
      self->refusal_.reset();
    }
    av_frame_unref(frame);
    return AVERROR(ENOMEM);
  };
  // Told before allocating where the picture's size already says so: the decoder's pool
  // keeps (and zeroes) what it allocates.
  const int least_bytes = av_image_get_buffer_size(static_cast<AVPixelFormat>(frame->format), frame->width,
                                                   frame->height, 1);
  if (least_bytes > 0 && self->held_bytes() + least_bytes > self->max_bytes_) return refuse(least_bytes);
  const int ret = avcodec_default_get_buffer2(decoder, frame, flags);
  if (ret < 0) return ret;
  int64_t bytes = 0;
  for (const AVBufferRef* b : frame->buf)
    if (b != nullptr) bytes += static_cast<int64_t>(b->size);
  for (int i = 0; i < frame->nb_extended_buf; ++i) bytes += static_cast<int64_t>(frame->extended_buf[i]->size);
  if (self->held_bytes() + bytes > self->max_bytes_) return refuse(bytes);
  // Each buffer is wrapped in one whose release returns the bytes. A wrapper that cannot
  // be made fails the picture; av_frame_unref releases wrapped and unwrapped alike.
  const auto wrap = [&](AVBufferRef*& slot) {
    auto* held = new (std::nothrow) HeldBuffer{self->shared_from_this(), slot};
    if (held == nullptr) return false;
    AVBufferRef* wrapper = av_buffer_create(slot->data, slot->size, &PictureMemoryBudget::release, held, 0);
    if (wrapper == nullptr) {
      delete held;
      return false;
    }
    self->held_bytes_.fetch_add(static_cast<int64_t>(slot->size), std::memory_order_relaxed);
    slot = wrapper;
    return true;
  };
  for (AVBufferRef*& b : frame->buf) {
    if (b != nullptr && !wrap(b)) {
      av_frame_unref(frame);
      return AVERROR(ENOMEM);
    }
  }
  for (int i = 0; i < frame->nb_extended_buf; ++i) {
    if (!wrap(frame->extended_buf[i])) {
      av_frame_unref(frame);
      return AVERROR(ENOMEM);
    }
  }
  self->peak_bytes_ = std::max(self->peak_bytes_, self->held_bytes());
  return 0;
}

void PictureMemoryBudget::release(void* opaque, uint8_t*) {
  auto* held = static_cast<HeldBuffer*>(opaque);
  held->budget->held_bytes_.fetch_sub(static_cast<int64_t>(held->buffer->size), std::memory_order_relaxed);
  av_buffer_unref(&held->buffer);
  delete held;
}

}  // namespace callrec::engine
