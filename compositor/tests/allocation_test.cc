// Steady-state composing allocates nothing on the C++ heap: operator new is
// counted for the whole test executable and checked around compose().
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/frame.h>
}

#include "callrec/compositor/video_compositor.h"
#include "callrec/core/av.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// GCC 12 at the sanitizer build's optimization sees these replacements inlined into
// gtest's code and warns that free() releases what "operator new" returned, which is
// the malloc() above (-Wmismatched-new-delete, a false positive for a replaced new).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace callrec::compositor {
namespace {

TEST(VideoCompositorAllocation, SteadyStateComposeAllocatesNothing) {
  VideoCompositor compositor;
  std::vector<ParticipantId> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(compositor.join("p" + std::to_string(i), "P " + std::to_string(i)));
  ids.push_back(compositor.join("placeholder", "No Video"));
  av::FramePtr frames[2] = {av::make_frame(), av::make_frame()};
  for (int k = 0; k < 2; ++k) {
    frames[k]->format = AV_PIX_FMT_YUV420P;
    frames[k]->width = 640;
    frames[k]->height = 360;
    ASSERT_GE(av_frame_get_buffer(frames[k].get(), 0), 0);
    ASSERT_GE(av_frame_make_writable(frames[k].get()), 0);
  }
  // Warm up: scalers, scratch pictures, placeholder, queue capacity, frame shells.
  for (int tick = 0; tick < 20; ++tick) {
    for (int i = 0; i < 9; ++i) compositor.push_frame(ids[i], *frames[tick % 2], MediaTime(tick, Rational{1, 8}));
    compositor.compose(MediaTime(tick, Rational{1, 8}));
  }
  const long before = g_allocations.load();
  for (int tick = 20; tick < 60; ++tick) {
    for (int i = 0; i < 9; ++i) compositor.push_frame(ids[i], *frames[tick % 2], MediaTime(tick, Rational{1, 8}));
    compositor.compose(MediaTime(tick, Rational{1, 8}));
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  // The counter does see allocations (the check above can fail).
  auto probe = std::make_unique<int>(1);
  EXPECT_GT(g_allocations.load() - before, 0);
}

}  // namespace
}  // namespace callrec::compositor
