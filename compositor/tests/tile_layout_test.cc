#include "callrec/compositor/tile_layout.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

namespace callrec::compositor {
namespace {

constexpr Size kHd{1920, 1080};

bool overlap(const Rect& a, const Rect& b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

TEST(GridShape, FollowsTheDesignTable) {
  const struct {
    int n;
    GridShape shape;
  } table[] = {{0, {0, 0}},   {1, {1, 1}},   {2, {2, 1}},   {3, {2, 2}},   {4, {2, 2}},   {5, {3, 2}},
               {6, {3, 2}},   {7, {3, 3}},   {8, {3, 3}},   {9, {3, 3}},   {10, {4, 3}},  {12, {4, 3}},
               {13, {4, 4}},  {16, {4, 4}},  {17, {5, 4}},  {20, {5, 4}},  {21, {5, 5}},  {25, {5, 5}},
               {26, {6, 5}},  {30, {6, 5}},  {31, {6, 6}},  {36, {6, 6}},  {37, {7, 6}},  {42, {7, 6}},
               {43, {7, 7}},  {49, {7, 7}},  {50, {7, 7}},  {500, {7, 7}}};
  for (const auto& row : table) EXPECT_EQ(grid_shape(row.n), row.shape) << "n=" << row.n;
}

TEST(TileLayout, OneTileIsTheFullCanvas) {
  ASSERT_EQ(tile_layout(1, kHd), (std::vector<Rect>{Rect{0, 0, 1920, 1080}}));
}

TEST(TileLayout, TwoTilesSideBySide) {
  const auto tiles = tile_layout(2, kHd);
  ASSERT_EQ(tiles.size(), 2u);
  EXPECT_EQ(tiles[0].y, tiles[1].y);
  EXPECT_EQ(tiles[0].x + tiles[0].width, tiles[1].x);  // no gutter: the cells touch
  EXPECT_EQ(tiles[0], (Rect{0, 0, 960, 1080}));
  EXPECT_EQ(tiles[1], (Rect{960, 0, 960, 1080}));
}

TEST(TileLayout, EveryCountUpTo49IsAValidGrid) {
  for (int n = 1; n <= kMaxGridTiles; ++n) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const auto tiles = tile_layout(n, kHd);
    ASSERT_EQ(static_cast<int>(tiles.size()), n);
    const GridShape shape = grid_shape(n);
    std::set<int> row_tops;
    for (size_t i = 0; i < tiles.size(); ++i) {
      const Rect& r = tiles[i];
      EXPECT_GE(r.x, 0);
      EXPECT_GE(r.y, 0);
      EXPECT_LE(r.x + r.width, kHd.width);
      EXPECT_LE(r.y + r.height, kHd.height);
      EXPECT_EQ(r.x % 2, 0);
      EXPECT_EQ(r.y % 2, 0);
      EXPECT_EQ(r.width % 2, 0);
      EXPECT_EQ(r.height % 2, 0);
      EXPECT_EQ(r.width, tiles[0].width);  // all tiles the same size
      EXPECT_EQ(r.height, tiles[0].height);
      for (size_t j = i + 1; j < tiles.size(); ++j) EXPECT_FALSE(overlap(r, tiles[j])) << i << " vs " << j;
      row_tops.insert(r.y);
      // Display order: row by row, left to right.
      if (i > 0) {
        const Rect& p = tiles[i - 1];
        EXPECT_TRUE(r.y > p.y || (r.y == p.y && r.x > p.x));
      }
    }
    EXPECT_EQ(static_cast<int>(row_tops.size()), shape.rows);
    for (int top : row_tops) {
      EXPECT_LE(std::count_if(tiles.begin(), tiles.end(), [&](const Rect& r) { return r.y == top; }), shape.columns);
    }
    // Tiles fill the canvas: the grid's extent leaves at most rounding at the edges.
    if (n > 1) {
      const int grid_w = shape.columns * tiles[0].width;
      const int grid_h = shape.rows * tiles[0].height;
      EXPECT_GE(grid_w, kHd.width - 2 * shape.columns);
      EXPECT_GE(grid_h, kHd.height - 2 * shape.rows);
    }
    // A partial last row is centred: equal space to its left and right.
    const int last_top = *row_tops.rbegin();
    int left = kHd.width, right = 0;
    for (const Rect& r : tiles) {
      if (r.y == last_top) left = std::min(left, r.x), right = std::max(right, r.x + r.width);
    }
    EXPECT_LE(std::abs(left - (kHd.width - right)), 4) << "left " << left << " right " << right;
  }
}

TEST(TileLayout, CapsAt49AndIsEmptyForNone) {
  EXPECT_TRUE(tile_layout(0, kHd).empty());
  EXPECT_TRUE(tile_layout(-3, kHd).empty());
  EXPECT_EQ(tile_layout(50, kHd), tile_layout(49, kHd));
  EXPECT_EQ(tile_layout(1000, kHd).size(), 49u);
}

TEST(TileLayout, ThreeTilesCentreTheLastOne) {
  const auto tiles = tile_layout(3, kHd);
  ASSERT_EQ(tiles.size(), 3u);
  EXPECT_EQ(tiles[2].x + tiles[2].width / 2, 960);
}

TEST(FitInside, KeepsAspectAndCentres) {
  const Rect tile{0, 0, 1920, 1080};
  EXPECT_EQ(fit_inside({1280, 720}, tile), tile);
  EXPECT_EQ(fit_inside({1080, 1920}, tile), (Rect{656, 0, 608, 1080}));  // 1080*9/16 = 607.5 -> 608
  EXPECT_EQ(fit_inside({640, 480}, tile), (Rect{240, 0, 1440, 1080}));
  EXPECT_EQ(fit_inside({3840, 1080}, tile), (Rect{0, 270, 1920, 540}));
  EXPECT_EQ(fit_inside({0, 0}, tile), tile);
  const Rect small{10, 20, 100, 100};
  EXPECT_EQ(fit_inside({1920, 1080}, small), (Rect{10, 42, 100, 56}));
  EXPECT_EQ(fit_inside({10000, 10}, small), (Rect{10, 68, 100, 2}));  // never thinner than 2
}

TEST(FitInside, EvenAndInsideForManyShapes) {
  const Rect tile{2, 2, 272, 150};
  for (int w = 2; w < 500; w += 37) {
    for (int h = 2; h < 500; h += 41) {
      const Rect r = fit_inside({w, h}, tile);
      EXPECT_EQ(r.x % 2 + r.y % 2 + r.width % 2 + r.height % 2, 0);
      EXPECT_GE(r.x, tile.x);
      EXPECT_GE(r.y, tile.y);
      EXPECT_LE(r.x + r.width, tile.x + tile.width);
      EXPECT_LE(r.y + r.height, tile.y + tile.height);
      EXPECT_TRUE(r.width == tile.width || r.height == tile.height);
    }
  }
}

TEST(ScreenShareLayout, MainAreaAndStripDoNotOverlap) {
  EXPECT_EQ(screen_share_strip_capacity(kHd), 6);
  EXPECT_EQ(screen_share_layout(0, kHd).main, (Rect{0, 0, 1920, 1080}));
  for (int n = 1; n <= 8; ++n) {
    const auto layout = screen_share_layout(n, kHd);
    EXPECT_EQ(static_cast<int>(layout.strip.size()), std::min(n, 6));
    EXPECT_EQ(layout.main, (Rect{0, 0, 1600, 1080}));
    for (size_t i = 0; i < layout.strip.size(); ++i) {
      const Rect& r = layout.strip[i];
      EXPECT_FALSE(overlap(r, layout.main));
      EXPECT_LE(r.x + r.width, 1920);
      EXPECT_LE(r.y + r.height, 1080);
      EXPECT_GE(r.y, 0);
      for (size_t j = i + 1; j < layout.strip.size(); ++j) EXPECT_FALSE(overlap(r, layout.strip[j]));
    }
    // Centred vertically.
    const int top = layout.strip.front().y;
    const int bottom = layout.strip.back().y + layout.strip.back().height;
    EXPECT_LE(std::abs(top - (1080 - bottom)), 4);
  }
}

}  // namespace
}  // namespace callrec::compositor
