#include "callrec/compositor/video_compositor.h"

#include <cstring>
#include <deque>
#include <optional>

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
}

#include "callrec/compositor/placeholder.h"
#include "callrec/core/av.h"
#include "callrec/core/error.h"

namespace callrec::compositor {
namespace {

constexpr YuvColour kBackground{37, 128, 128};

// A solid yuv420p picture.
av::FramePtr solid(int width, int height, YuvColour c) {
  av::FramePtr f = av::make_frame();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = width;
  f->height = height;
  if (av_frame_get_buffer(f.get(), 0) < 0) throw Error("test: cannot allocate a frame");
  for (int y = 0; y < height; ++y) std::memset(f->data[0] + y * f->linesize[0], c.y, width);
  for (int y = 0; y < (height + 1) / 2; ++y) {
    std::memset(f->data[1] + y * f->linesize[1], c.u, (width + 1) / 2);
    std::memset(f->data[2] + y * f->linesize[2], c.v, (width + 1) / 2);
  }
  return f;
}

YuvColour pixel(const AVFrame& f, int x, int y) {
  return YuvColour{f.data[0][y * f.linesize[0] + x], f.data[1][(y / 2) * f.linesize[1] + x / 2],
                   f.data[2][(y / 2) * f.linesize[2] + x / 2]};
}

bool near(YuvColour a, YuvColour b, int tolerance = 1) {
  return std::abs(a.y - b.y) <= tolerance && std::abs(a.u - b.u) <= tolerance && std::abs(a.v - b.v) <= tolerance;
}

::testing::AssertionResult has_colour(const AVFrame& f, int x, int y, YuvColour expected, int tolerance = 1) {
  const YuvColour got = pixel(f, x, y);
  if (near(got, expected, tolerance)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "pixel (" << x << "," << y << ") is YUV " << int(got.y) << "," << int(got.u)
                                       << "," << int(got.v) << ", expected " << int(expected.y) << ","
                                       << int(expected.u) << "," << int(expected.v);
}

// Distinct colours for up to 49 participants (at least 3 apart in luma).
YuvColour colour_of(int i) {
  return YuvColour{static_cast<uint8_t>(60 + 3 * i), static_cast<uint8_t>(70 + 2 * i), static_cast<uint8_t>(190 - 2 * i)};
}

Size painted_extent(const AVFrame& f, Rect tile) {
  // The painted (non-background) run through the tile's centre row and column.
  const int cx = tile.x + tile.width / 2, cy = tile.y + tile.height / 2;
  int left = cx, right = cx, top = cy, bottom = cy;
  while (left > tile.x && !near(pixel(f, left - 1, cy), kBackground, 2)) --left;
  while (right < tile.x + tile.width && !near(pixel(f, right, cy), kBackground, 2)) ++right;
  while (top > tile.y && !near(pixel(f, cx, top - 1), kBackground, 2)) --top;
  while (bottom < tile.y + tile.height && !near(pixel(f, cx, bottom), kBackground, 2)) ++bottom;
  return Size{right - left, bottom - top};
}

MediaTime ms(int64_t v) { return MediaTime::from_ms(v); }

Rect centre_of(Rect r) { return Rect{r.x + r.width / 2, r.y + r.height / 2, 0, 0}; }

class GridColours : public ::testing::TestWithParam<int> {};

TEST_P(GridColours, EachParticipantLandsInItsTile) {
  const int n = GetParam();
  VideoCompositor compositor;
  std::vector<ParticipantId> ids;
  for (int i = 0; i < n; ++i) ids.push_back(compositor.join("p" + std::to_string(i), "P " + std::to_string(i)));
  for (int i = 0; i < n; ++i) compositor.push_frame(ids[i], *solid(640, 360, colour_of(i)), ms(0));
  const AVFrame& canvas = compositor.compose(ms(0));
  ASSERT_EQ(canvas.width, 1920);
  ASSERT_EQ(canvas.height, 1080);
  ASSERT_EQ(canvas.format, AV_PIX_FMT_YUV420P);
  const auto tiles = tile_layout(n, kCanvas);
  for (int i = 0; i < n; ++i) {
    const Rect c = centre_of(tiles[i]);
    EXPECT_TRUE(has_colour(canvas, c.x, c.y, colour_of(i))) << "participant " << i << " of " << n;
  }
  // Where a 16:9 picture does not fill its tile, the bars are background (2 -> two
  // 960x1080 tiles: bars above and below).
  if (n == 2) {
    EXPECT_TRUE(has_colour(canvas, 0, 0, kBackground, 0));
  }
}

INSTANTIATE_TEST_SUITE_P(Counts, GridColours, ::testing::Values(1, 2, 3, 4, 5, 7, 9, 16, 49));

struct AspectCase {
  Size input;
  int tile_count;
};

class AspectKept : public ::testing::TestWithParam<AspectCase> {};

TEST_P(AspectKept, PictureIsFittedNotStretched) {
  const AspectCase param = GetParam();
  VideoCompositor compositor;
  std::vector<ParticipantId> ids;
  for (int i = 0; i < param.tile_count; ++i) ids.push_back(compositor.join("p" + std::to_string(i), ""));
  for (int i = 0; i < param.tile_count; ++i) {
    compositor.push_frame(ids[i], *solid(param.input.width, param.input.height, colour_of(10)), ms(0));
  }
  const AVFrame& canvas = compositor.compose(ms(0));
  const Rect tile = tile_layout(param.tile_count, kCanvas)[0];
  const Size painted = painted_extent(canvas, tile);
  const double want = static_cast<double>(param.input.width) / param.input.height;
  const double got = static_cast<double>(painted.width) / painted.height;
  EXPECT_NEAR(got / want, 1.0, 0.02) << "painted " << painted.width << "x" << painted.height;
  // It fills the tile in one direction.
  EXPECT_TRUE(painted.width >= tile.width - 2 || painted.height >= tile.height - 2);
  EXPECT_EQ(fit_inside(param.input, tile).width, painted.width);
  EXPECT_EQ(fit_inside(param.input, tile).height, painted.height);
}

INSTANTIATE_TEST_SUITE_P(Inputs, AspectKept,
                         ::testing::Values(AspectCase{{360, 640}, 1},    // portrait phone 9:16
                                           AspectCase{{360, 640}, 4},    //
                                           AspectCase{{640, 480}, 1},    // 4:3
                                           AspectCase{{2560, 1080}, 1},  // ultra-wide 21:9
                                           AspectCase{{2560, 1080}, 9},  //
                                           AspectCase{{160, 120}, 2},    // tiny
                                           AspectCase{{3840, 2160}, 5},  // 4K
                                           AspectCase{{1280, 720}, 2}));

TEST(VideoCompositor, ConvertsOtherPixelFormats) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("rgb", "");
  av::FramePtr f = av::make_frame();
  f->format = AV_PIX_FMT_RGB24;
  f->width = 320;
  f->height = 180;
  ASSERT_GE(av_frame_get_buffer(f.get(), 0), 0);
  for (int y = 0; y < 180; ++y) {
    for (int x = 0; x < 320; ++x) {
      uint8_t* p = f->data[0] + y * f->linesize[0] + 3 * x;
      p[0] = 255, p[1] = 0, p[2] = 0;  // pure red
    }
  }
  compositor.push_frame(id, *f, ms(0));
  const AVFrame& canvas = compositor.compose(ms(0));
  // BT.601 limited red: Y 81, U 90, V 240.
  EXPECT_TRUE(has_colour(canvas, 960, 540, YuvColour{81, 90, 240}, 3));
}

TEST(VideoCompositor, ResolutionChangeMidStream) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("phone", "Phone");
  const YuvColour a = colour_of(1), b = colour_of(20);
  compositor.push_frame(id, *solid(640, 360, a), ms(0));
  compositor.push_frame(id, *solid(360, 640, b), ms(125));  // rotated
  compositor.push_frame(id, *solid(640, 360, a), ms(250));  // and back
  const Rect full{0, 0, 1920, 1080};
  const AVFrame& c0 = compositor.compose(ms(0));
  EXPECT_EQ(painted_extent(c0, full).width, 1920);
  EXPECT_EQ(painted_extent(c0, full).height, 1080);
  const AVFrame& c1 = compositor.compose(ms(125));
  EXPECT_TRUE(has_colour(c1, 960, 540, b));
  EXPECT_EQ(painted_extent(c1, full).width, 608);
  EXPECT_EQ(painted_extent(c1, full).height, 1080);
  EXPECT_TRUE(has_colour(c1, 100, 540, kBackground, 0));  // old landscape picture is gone
  const AVFrame& c2 = compositor.compose(ms(250));
  EXPECT_TRUE(has_colour(c2, 100, 540, a));
}

TEST(VideoCompositor, ShowsTheFrameNearestToT) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("cam", "");
  for (int k = 0; k <= 25; ++k) compositor.push_frame(id, *solid(320, 180, colour_of(k)), ms(40 * k));
  // 125 ms: 120 ms (frame 3) is 5 ms away, 160 ms is 35 ms away.
  EXPECT_TRUE(has_colour(compositor.compose(ms(125)), 960, 540, colour_of(3)));
  // 250 ms: 240 ms (frame 6).
  EXPECT_TRUE(has_colour(compositor.compose(ms(250)), 960, 540, colour_of(6)));
  // 375 ms: 360 (15 away) vs 400 (25 away).
  EXPECT_TRUE(has_colour(compositor.compose(ms(375)), 960, 540, colour_of(9)));
  // 500 ms: exactly frame 12 (480 is 20 away, 520 is 20 away: nearest kept the earlier).
  EXPECT_TRUE(has_colour(compositor.compose(ms(500)), 960, 540, colour_of(12)));
  EXPECT_TRUE(has_colour(compositor.compose(ms(505)), 960, 540, colour_of(13)));
}

TEST(VideoCompositor, FramesPushedAheadAreKept) {
  // The engine reads files ahead: two seconds of frames before the first compose.
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("cam", "");
  for (int k = 0; k < 60; ++k) compositor.push_frame(id, *solid(320, 180, colour_of(k % 40)), ms(33 * k));
  for (int tick = 0; tick < 16; ++tick) {
    const int64_t t = 125 * tick;
    const int nearest = static_cast<int>((t + 16) / 33);
    EXPECT_TRUE(has_colour(compositor.compose(ms(t)), 960, 540, colour_of(nearest % 40))) << "t=" << t;
  }
}

TEST(VideoCompositor, CallerMayKeepTheReturnedFrame) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("cam", "");
  compositor.push_frame(id, *solid(320, 180, colour_of(1)), ms(0));
  compositor.push_frame(id, *solid(320, 180, colour_of(2)), ms(125));
  av::FramePtr kept = av::make_frame();
  ASSERT_GE(av_frame_ref(kept.get(), &compositor.compose(ms(0))), 0);  // e.g. an encoder queue
  const AVFrame& next = compositor.compose(ms(125));
  EXPECT_TRUE(has_colour(next, 960, 540, colour_of(2)));
  EXPECT_TRUE(has_colour(*kept, 960, 540, colour_of(1)));  // not painted over
}

// As the recording writer does: each canvas is held until its picture is written, a few
// periods later, or many of them (a long lookahead). Every held canvas keeps what it
// showed, and each new one shows its own instant, across a still tile, a moving one, a
// participant leaving (the grid re-flows) and one joining, whichever canvas the
// compositor paints into.
TEST(VideoCompositor, HeldCanvasesKeepTheirPictures) {
  for (const size_t held : {size_t{1}, size_t{3}, size_t{12}}) {
    SCOPED_TRACE("canvases held: " + std::to_string(held));
    VideoCompositor compositor;
    const ParticipantId still = compositor.join("still", "");
    const ParticipantId moving = compositor.join("moving", "");
    const ParticipantId leaving = compositor.join("leaving", "");
    constexpr int kPeriods = 24;
    // A new picture of the same colour each second: within the stall timeout, and the
    // periods in between show the same picture (nothing to repaint on that canvas).
    for (int k = 0; k < kPeriods; k += 8) compositor.push_frame(still, *solid(640, 360, colour_of(1)), ms(125 * k));
    compositor.push_frame(leaving, *solid(640, 360, colour_of(2)), ms(0));
    for (int k = 0; k < kPeriods; ++k) compositor.push_frame(moving, *solid(640, 360, colour_of(10 + k)), ms(125 * k));
    std::optional<ParticipantId> joined;
    struct Held {
      av::FramePtr canvas;
      int period;
    };
    std::deque<Held> kept;
    // Where each participant's tile is at period k, and what it shows.
    auto expected = [&](int k) {
      if (k < 8) {
        const auto rects = tile_layout(3, kCanvas);
        return std::vector<std::pair<Rect, YuvColour>>{
            {rects[0], colour_of(1)}, {rects[1], colour_of(10 + k)}, {rects[2], colour_of(2)}};
      }
      if (k < 16) {
        const auto rects = tile_layout(2, kCanvas);
        return std::vector<std::pair<Rect, YuvColour>>{{rects[0], colour_of(1)}, {rects[1], colour_of(10 + k)}};
      }
      const auto rects = tile_layout(3, kCanvas);
      return std::vector<std::pair<Rect, YuvColour>>{
          {rects[0], colour_of(1)}, {rects[1], colour_of(10 + k)}, {rects[2], colour_of(40)}};
    };
    auto check = [&](const AVFrame& canvas, int k) {
      for (const auto& [rect, colour] : expected(k)) {
        EXPECT_TRUE(has_colour(canvas, centre_of(rect).x, centre_of(rect).y, colour)) << "period " << k;
      }
    };
    for (int k = 0; k < kPeriods; ++k) {
      if (k == 8) compositor.leave(leaving);
      if (k == 16) {
        joined = compositor.join("joined", "");
        compositor.push_frame(*joined, *solid(640, 360, colour_of(40)), ms(125 * k));
      }
      const AVFrame& canvas = compositor.compose(ms(125 * k));
      check(canvas, k);
      av::FramePtr ref = av::make_frame();
      ASSERT_GE(av_frame_ref(ref.get(), &canvas), 0);
      kept.push_back(Held{std::move(ref), k});
      if (kept.size() > held) kept.pop_front();
      for (const Held& h : kept) check(*h.canvas, h.period);
    }
  }
}

TEST(VideoCompositor, PlaceholderWithoutVideo) {
  VideoCompositor compositor;
  compositor.join("ada", "Ada Lovelace");
  const AVFrame& canvas = compositor.compose(ms(0));
  const YuvColour colour = placeholder_colour("ada");
  EXPECT_TRUE(has_colour(canvas, 10, 10, colour, 0));
  EXPECT_TRUE(has_colour(canvas, 1900, 1070, colour, 0));
  int text = 0;
  for (int y = 300; y < 780; ++y) {
    for (int x = 500; x < 1420; ++x) text += canvas.data[0][y * canvas.linesize[0] + x] > colour.y + 60;
  }
  EXPECT_GT(text, 10000) << "initials should be drawn in the middle of the tile";
}

TEST(VideoCompositor, PlaceholderColourIsStablePerId) {
  VideoCompositor one, two;
  one.join("x", "");
  one.join("carol", "Carol C");
  two.join("carol", "Carol C");
  const Rect second = tile_layout(2, kCanvas)[1];
  const YuvColour a = pixel(one.compose(ms(0)), second.x + 4, second.y + 4);
  const YuvColour b = pixel(two.compose(ms(0)), 4, 4);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, placeholder_colour("carol"));
  EXPECT_NE(pixel(one.compose(ms(0)), 10, 540), a);  // "x" has another colour
}

TEST(VideoCompositor, StalledVideoShowsPlaceholder) {
  CompositorConfig config;
  config.stall_timeout = ms(500);
  VideoCompositor compositor(config);
  const ParticipantId id = compositor.join("cam", "Cam");
  for (int k = 0; k <= 8; ++k) compositor.push_frame(id, *solid(320, 180, colour_of(5)), ms(125 * k));
  EXPECT_TRUE(has_colour(compositor.compose(ms(1000)), 10, 540, colour_of(5)));
  EXPECT_TRUE(has_colour(compositor.compose(ms(1500)), 10, 540, colour_of(5)));  // 500 ms late: still ok
  EXPECT_TRUE(has_colour(compositor.compose(ms(1625)), 10, 540, placeholder_colour("cam"), 0));
  // Video resumes.
  compositor.push_frame(id, *solid(320, 180, colour_of(7)), ms(1750));
  EXPECT_TRUE(has_colour(compositor.compose(ms(1750)), 10, 540, colour_of(7)));
}

TEST(VideoCompositor, DefaultStallTimeoutIsTwoSeconds) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("cam", "Cam");
  compositor.push_frame(id, *solid(320, 180, colour_of(5)), ms(0));
  EXPECT_TRUE(has_colour(compositor.compose(ms(2000)), 10, 540, colour_of(5)));
  EXPECT_TRUE(has_colour(compositor.compose(ms(2125)), 10, 540, placeholder_colour("cam"), 0));
}

TEST(VideoCompositor, VideoStartingLaterIsNotShownEarly) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("late", "");
  compositor.push_frame(id, *solid(320, 180, colour_of(5)), ms(1000));  // read ahead
  EXPECT_TRUE(has_colour(compositor.compose(ms(0)), 10, 540, placeholder_colour("late"), 0));
  EXPECT_TRUE(has_colour(compositor.compose(ms(875)), 10, 540, placeholder_colour("late"), 0));
  EXPECT_TRUE(has_colour(compositor.compose(ms(1000)), 10, 540, colour_of(5)));
}

TEST(VideoCompositor, EndVideoShowsPlaceholderAfterTheLastFrame) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("cam", "Cam");
  for (int k = 0; k < 3; ++k) compositor.push_frame(id, *solid(320, 180, colour_of(k)), ms(100 * k));
  compositor.end_video(id);
  EXPECT_TRUE(has_colour(compositor.compose(ms(250)), 10, 540, colour_of(2)));
  EXPECT_TRUE(has_colour(compositor.compose(ms(299)), 10, 540, colour_of(2)));  // last frame lasts 100 ms
  EXPECT_TRUE(has_colour(compositor.compose(ms(300)), 10, 540, placeholder_colour("cam"), 0));
  // A later push starts a new video.
  compositor.push_frame(id, *solid(320, 180, colour_of(9)), ms(500));
  EXPECT_TRUE(has_colour(compositor.compose(ms(375)), 10, 540, placeholder_colour("cam"), 0));
  EXPECT_TRUE(has_colour(compositor.compose(ms(500)), 10, 540, colour_of(9)));
}

// A caller that pushes only the pictures that can be shown says how long the last one
// lasts: the spacing of what it pushed is not the camera's frame spacing.
TEST(VideoCompositor, EndVideoWithTheLastFramesDuration) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("cam", "Cam");
  compositor.push_frame(id, *solid(320, 180, colour_of(0)), ms(0));
  compositor.push_frame(id, *solid(320, 180, colour_of(1)), ms(133));  // 33..100 ms were never pushed
  compositor.end_video(id, ms(33));
  EXPECT_TRUE(has_colour(compositor.compose(ms(125)), 10, 540, colour_of(1)));
  EXPECT_TRUE(has_colour(compositor.compose(ms(250)), 10, 540, placeholder_colour("cam"), 0));  // ended at 166 ms
}

// Back-to-back files of one camera: the next file's first picture comes before the end
// of the previous file's last picture. The tile goes straight on to it, never to the
// placeholder, and the queue does not pile up behind the old end.
TEST(VideoCompositor, NextVideoStartingBeforeTheEndOfTheLastFrameGoesOn) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("cam", "Cam");
  for (int k = 0; k < 3; ++k) compositor.push_frame(id, *solid(320, 180, colour_of(k)), ms(33 * k));
  compositor.end_video(id);  // ends at 99 ms
  for (int k = 0; k < 30; ++k) compositor.push_frame(id, *solid(320, 180, colour_of(3 + k % 2)), ms(90 + 33 * k));
  EXPECT_TRUE(has_colour(compositor.compose(ms(66)), 10, 540, colour_of(2)));
  EXPECT_TRUE(has_colour(compositor.compose(ms(125)), 10, 540, colour_of(4)));  // 123 ms: the second picture
  EXPECT_TRUE(has_colour(compositor.compose(ms(500)), 10, 540, colour_of(3)));  // 486 ms: the 13th
}

TEST(VideoCompositor, LeaveReflowsTheGrid) {
  VideoCompositor compositor;
  std::vector<ParticipantId> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(compositor.join("p" + std::to_string(i), ""));
    compositor.push_frame(ids.back(), *solid(640, 360, colour_of(10 * i)), ms(0));
  }
  compositor.compose(ms(0));
  compositor.leave(ids[1]);
  const AVFrame& canvas = compositor.compose(ms(125));
  const auto tiles = tile_layout(2, kCanvas);
  EXPECT_TRUE(has_colour(canvas, centre_of(tiles[0]).x, centre_of(tiles[0]).y, colour_of(0)));
  EXPECT_TRUE(has_colour(canvas, centre_of(tiles[1]).x, centre_of(tiles[1]).y, colour_of(20)));
  // Where the old 2x2 grid's tiles were, beyond the new pictures, is background now.
  EXPECT_TRUE(has_colour(canvas, 480, 100, kBackground, 0));
  EXPECT_EQ(compositor.visible_participants(), (std::vector<ParticipantId>{ids[0], ids[2]}));
}

TEST(VideoCompositor, OnlyChangedTilesAreRepainted) {
  // A participant whose frame did not change keeps its pixels from one canvas to the
  // next.
  VideoCompositor compositor;
  const ParticipantId still = compositor.join("still", "");
  const ParticipantId moving = compositor.join("moving", "");
  compositor.push_frame(still, *solid(640, 360, colour_of(1)), ms(0));
  for (int k = 0; k < 4; ++k) compositor.push_frame(moving, *solid(640, 360, colour_of(10 + k)), ms(125 * k));
  const auto tiles = tile_layout(2, kCanvas);
  for (int k = 0; k < 4; ++k) {
    const AVFrame& canvas = compositor.compose(ms(125 * k));
    EXPECT_TRUE(has_colour(canvas, centre_of(tiles[0]).x, centre_of(tiles[0]).y, colour_of(1)));
    EXPECT_TRUE(has_colour(canvas, centre_of(tiles[1]).x, centre_of(tiles[1]).y, colour_of(10 + k)));
  }
}

TEST(VideoCompositor, ScreenShareTakesTheMainArea) {
  VideoCompositor compositor;
  const ParticipantId ada = compositor.join("ada", "Ada");
  const ParticipantId bob = compositor.join("bob", "Bob");
  compositor.push_frame(ada, *solid(640, 360, colour_of(1)), ms(0));
  compositor.push_frame(bob, *solid(640, 360, colour_of(2)), ms(0));
  const ParticipantId share = compositor.join_screen_share("ada");
  compositor.push_frame(share, *solid(1280, 1024, colour_of(30)), ms(0));  // 5:4 screen
  const AVFrame& canvas = compositor.compose(ms(0));
  const ScreenShareLayout layout = screen_share_layout(2, kCanvas);
  const Rect screen = fit_inside({1280, 1024}, layout.main);
  EXPECT_TRUE(has_colour(canvas, centre_of(screen).x, centre_of(screen).y, colour_of(30)));
  const Size painted = painted_extent(canvas, layout.main);
  EXPECT_EQ(painted.width, screen.width);
  EXPECT_EQ(painted.height, screen.height);
  EXPECT_TRUE(has_colour(canvas, centre_of(layout.strip[0]).x, centre_of(layout.strip[0]).y, colour_of(1)));
  EXPECT_TRUE(has_colour(canvas, centre_of(layout.strip[1]).x, centre_of(layout.strip[1]).y, colour_of(2)));
  EXPECT_EQ(compositor.visible_participants(), (std::vector<ParticipantId>{share, ada, bob}));

  // The share ends: back to the grid.
  compositor.leave(share);
  const AVFrame& grid = compositor.compose(ms(125));
  const auto tiles = tile_layout(2, kCanvas);
  EXPECT_TRUE(has_colour(grid, centre_of(tiles[0]).x, centre_of(tiles[0]).y, colour_of(1)));
  EXPECT_TRUE(has_colour(grid, centre_of(tiles[1]).x, centre_of(tiles[1]).y, colour_of(2)));
}

TEST(VideoCompositor, ScreenShareBeforeItsFirstFrameShowsTheSharer) {
  VideoCompositor compositor;
  compositor.join("ada", "Ada");
  compositor.join_screen_share("ada");
  const AVFrame& canvas = compositor.compose(ms(0));
  EXPECT_TRUE(has_colour(canvas, 10, 10, placeholder_colour("ada"), 0));
}

TEST(VideoCompositor, MoreParticipantsThanTilesShowsRecentSpeakers) {
  CompositorConfig config;
  config.max_visible_tiles = 4;
  VideoCompositor compositor(config);
  std::vector<ParticipantId> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(compositor.join("p" + std::to_string(i), ""));
    compositor.push_frame(ids.back(), *solid(640, 360, colour_of(5 * i)), ms(0));
  }
  compositor.compose(ms(0));
  EXPECT_EQ(compositor.visible_participants(), (std::vector<ParticipantId>{ids[0], ids[1], ids[2], ids[3]}));
  compositor.set_speaking(ids[5], ms(100));
  compositor.compose(ms(125));
  // p5 takes the tile of the least recently active (never spoke, latest joined: p3);
  // the others keep their tiles.
  EXPECT_EQ(compositor.visible_participants(), (std::vector<ParticipantId>{ids[0], ids[1], ids[2], ids[5]}));
  compositor.set_speaking(ids[0], ms(200));
  compositor.set_speaking(ids[4], ms(300));
  const AVFrame& canvas = compositor.compose(ms(375));
  EXPECT_EQ(compositor.visible_participants(), (std::vector<ParticipantId>{ids[0], ids[1], ids[4], ids[5]}));
  const auto tiles = tile_layout(4, kCanvas);
  const int expected[] = {0, 1, 4, 5};
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(has_colour(canvas, centre_of(tiles[i]).x, centre_of(tiles[i]).y, colour_of(5 * expected[i])));
  }
  // Speaking again while visible changes nothing.
  compositor.set_speaking(ids[1], ms(400));
  compositor.compose(ms(500));
  EXPECT_EQ(compositor.visible_participants(), (std::vector<ParticipantId>{ids[0], ids[1], ids[4], ids[5]}));
}

TEST(VideoCompositor, SixtyParticipantsCapAt49Tiles) {
  VideoCompositor compositor;
  std::vector<ParticipantId> ids;
  for (int i = 0; i < 60; ++i) ids.push_back(compositor.join("p" + std::to_string(i), ""));
  compositor.set_speaking(ids[55], ms(10));
  compositor.compose(ms(0));
  const auto shown = compositor.visible_participants();
  EXPECT_EQ(shown.size(), 49u);
  EXPECT_NE(std::find(shown.begin(), shown.end(), ids[55]), shown.end());
}

// A picture the compositor cannot show is refused when pushed, with the reason, so it
// never reaches compose() (where it would cost every tile); the others are composed.
TEST(VideoCompositor, PicturesItCannotShowAreRefusedWhenPushed) {
  VideoCompositor compositor(Size{640, 360});
  const ParticipantId good = compositor.join("good", "");
  const ParticipantId bad = compositor.join("bad", "");
  const auto refusal = [&](const AVFrame& f) -> std::string {
    try {
      compositor.push_frame(bad, f, ms(0));
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  av::FramePtr vaapi = av::make_frame();
  vaapi->format = AV_PIX_FMT_VAAPI;
  vaapi->width = 320;
  vaapi->height = 180;
  EXPECT_NE(refusal(*vaapi).find("hardware surface (vaapi)"), std::string::npos) << refusal(*vaapi);
  av::FramePtr nv16 = av::make_frame();
  nv16->format = AV_PIX_FMT_NV16;
  nv16->width = 64;
  nv16->height = 36;
  ASSERT_GE(av_frame_get_buffer(nv16.get(), 0), 0);
  EXPECT_NE(refusal(*nv16).find("pixel format nv16 cannot be converted"), std::string::npos) << refusal(*nv16);
  av::FramePtr f = solid(64, 36, colour_of(3));
  f->width = 20000;
  EXPECT_NE(refusal(*f).find("larger than 16384x16384"), std::string::npos) << refusal(*f);
  f = solid(64, 36, colour_of(3));
  f->format = 12345;
  EXPECT_NE(refusal(*f).find("not a pixel format"), std::string::npos) << refusal(*f);
  f = solid(64, 36, colour_of(3));
  f->data[1] = nullptr;
  EXPECT_NE(refusal(*f).find("no data in plane 1"), std::string::npos) << refusal(*f);
  f = solid(64, 36, colour_of(3));
  f->linesize[0] = 10;
  EXPECT_NE(refusal(*f).find("rows shorter"), std::string::npos) << refusal(*f);
  EXPECT_NE(refusal(*f).find("participant bad"), std::string::npos) << refusal(*f);

  compositor.push_frame(good, *solid(320, 180, colour_of(5)), ms(0));
  const AVFrame& canvas = compositor.compose(ms(0));
  const auto tiles = tile_layout(2, Size{640, 360});
  EXPECT_TRUE(has_colour(canvas, tiles[0].x + tiles[0].width / 2, tiles[0].y + tiles[0].height / 2, colour_of(5), 2));
  EXPECT_EQ(compositor.paint_failures(), 0);
}

TEST(VideoCompositor, UnknownParticipantIsAnError) {
  VideoCompositor compositor;
  EXPECT_THROW(compositor.push_frame(42, *solid(16, 16, colour_of(0)), ms(0)), Error);
}

}  // namespace
}  // namespace callrec::compositor

namespace callrec::compositor {
namespace {

TEST(VideoCompositor, FullRangeInputIsConvertedToLimitedRange) {
  VideoCompositor compositor;
  const ParticipantId id = compositor.join("cam", "");
  av::FramePtr white = solid(320, 180, YuvColour{255, 128, 128});
  white->color_range = AVCOL_RANGE_JPEG;
  av::FramePtr black = solid(320, 180, YuvColour{0, 128, 128});
  black->color_range = AVCOL_RANGE_JPEG;
  compositor.push_frame(id, *white, ms(0));
  compositor.push_frame(id, *black, ms(125));
  EXPECT_TRUE(has_colour(compositor.compose(ms(0)), 960, 540, YuvColour{235, 128, 128}, 1));
  EXPECT_TRUE(has_colour(compositor.compose(ms(125)), 960, 540, YuvColour{16, 128, 128}, 1));
  EXPECT_EQ(compositor.compose(ms(125)).color_range, AVCOL_RANGE_MPEG);
}

}  // namespace
}  // namespace callrec::compositor
