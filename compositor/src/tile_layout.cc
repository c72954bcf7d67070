#include "callrec/compositor/tile_layout.h"

#include <algorithm>
#include <cstdint>

namespace callrec::compositor {
namespace {

constexpr int even_down(int v) { return v & ~1; }
constexpr int even_nearest(int64_t v) { return static_cast<int>((v + 1) & ~int64_t{1}); }

Rect inset(Rect r, int px) { return Rect{r.x + px, r.y + px, r.width - 2 * px, r.height - 2 * px}; }

}  // namespace

GridShape grid_shape(int tile_count) {
  if (tile_count <= 0) return GridShape{0, 0};
  const int n = std::min(tile_count, kMaxGridTiles);
  // Smallest near-square grid: the fewest columns c with c*c >= n, then as few rows
  // as hold n. This reproduces the fixed small cases (2 -> 2x1, 3-4 -> 2x2,
  // 5-6 -> 3x2, 7-9 -> 3x3) and continues 4x3, 4x4, 5x4, ... up to 7x7.
  int columns = 1;
  while (columns * columns < n) ++columns;
  const int rows = (n + columns - 1) / columns;
  return GridShape{columns, rows};
}

std::vector<Rect> tile_layout(int tile_count, Size canvas) {
  std::vector<Rect> tiles;
  if (tile_count <= 0 || canvas.width < 2 || canvas.height < 2) return tiles;
  const int n = std::min(tile_count, kMaxGridTiles);
  if (n == 1) {
    tiles.push_back(Rect{0, 0, even_down(canvas.width), even_down(canvas.height)});
    return tiles;
  }
  const GridShape shape = grid_shape(n);
  const int cell_w = even_down(canvas.width / shape.columns);
  const int cell_h = even_down(canvas.height / shape.rows);
  const int origin_x = even_down((canvas.width - shape.columns * cell_w) / 2);
  const int origin_y = even_down((canvas.height - shape.rows * cell_h) / 2);
  tiles.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const int row = i / shape.columns;
    const int col = i % shape.columns;
    const int in_row = std::min(shape.columns, n - row * shape.columns);
    // A partial last row is centred: shift it by half the missing cells.
    const int row_shift = even_down((shape.columns - in_row) * cell_w / 2);
    const Rect cell{origin_x + row_shift + col * cell_w, origin_y + row * cell_h, cell_w, cell_h};
    tiles.push_back(cell);
  }
  return tiles;
}

Rect fit_inside(Size picture, Rect tile) {
  if (picture.width <= 0 || picture.height <= 0 || tile.width <= 0 || tile.height <= 0) return tile;
  const int64_t pw = picture.width;
  const int64_t ph = picture.height;
  int w = 0;
  int h = 0;
  if (pw * tile.height >= ph * tile.width) {
    // Wider than the tile: full width, bars above and below.
    w = tile.width;
    h = even_nearest(int64_t{tile.width} * ph / pw);
  } else {
    h = tile.height;
    w = even_nearest(int64_t{tile.height} * pw / ph);
  }
  w = std::clamp(w, std::min(2, tile.width), tile.width);
  h = std::clamp(h, std::min(2, tile.height), tile.height);
  return Rect{tile.x + even_down((tile.width - w) / 2), tile.y + even_down((tile.height - h) / 2), w, h};
}

int screen_share_strip_capacity(Size canvas) {
  const int strip_w = even_down(canvas.width / 6);
  const int tile_h = even_down(strip_w * 9 / 16);
  return tile_h > 0 ? std::max(1, canvas.height / tile_h) : 0;
}

ScreenShareLayout screen_share_layout(int strip_tile_count, Size canvas) {
  ScreenShareLayout layout{Rect{0, 0, even_down(canvas.width), even_down(canvas.height)}, {}};
  if (strip_tile_count <= 0) return layout;
  const int n = std::min(strip_tile_count, screen_share_strip_capacity(canvas));
  const int strip_w = even_down(canvas.width / 6);
  const int tile_h = even_down(strip_w * 9 / 16);
  layout.main.width = even_down(canvas.width - strip_w);
  const int strip_x = layout.main.width;
  const int top = even_down((canvas.height - n * tile_h) / 2);
  layout.strip.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    layout.strip.push_back(inset(Rect{strip_x, top + i * tile_h, strip_w, tile_h}, kStripGutterPx / 2));
  }
  return layout;
}

}  // namespace callrec::compositor
