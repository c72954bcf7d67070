// TileLayout: where each participant's tile goes on the canvas. Pure geometry.
//
// Every function here is pure (no state, no allocation beyond the returned vector)
// and deterministic, so the compositor and its tests agree on the same rectangles.
#pragma once

#include <vector>

namespace callrec::compositor {

struct Size {
  int width;
  int height;
  friend bool operator==(const Size&, const Size&) = default;
};

struct Rect {
  int x;
  int y;
  int width;
  int height;
  friend bool operator==(const Rect&, const Rect&) = default;
};

// The most tiles the grid shows (7x7). tile_layout() caps at this many rectangles;
// choosing which participants get them when more are present is the compositor's job.
inline constexpr int kMaxGridTiles = 49;

// Grid tiles are whole grid cells, with no gutter between them: a 3x3 cell is
// 640x360, so the most common camera picture (640x360, the middle simulcast layer) is
// copied into its tile pixel for pixel, neither blurred nor paid for by a rescale (a
// 4 px gutter made every such tile a 632x356 rescale, most of the compositor's cost on
// a 9-party call). Pictures of another shape are still separated by their bars.
// Screen-share strip tiles are inset by kStripGutterPx / 2 on every side.
inline constexpr int kStripGutterPx = 4;

// Columns and rows of the grid for `tile_count` tiles (capped at kMaxGridTiles).
// {0, 0} for tile_count <= 0.
struct GridShape {
  int columns;
  int rows;
  friend bool operator==(const GridShape&, const GridShape&) = default;
};
GridShape grid_shape(int tile_count);

// Grid for `tile_count` tiles on `canvas`, in display order (row by row, left to
// right). 1 -> full canvas; 2 -> side by side; 3-4 -> 2x2; 5-6 -> 3x2; 7-9 -> 3x3;
// then the smallest near-square grid up to 7x7. A partial last row is centred.
// Rectangles have even coordinates and sizes (yuv420p chroma alignment).
// tile_count <= 0 gives no rectangles; tile_count > kMaxGridTiles gives kMaxGridTiles.
// The grid is centred on the canvas (cells are a whole, even number of pixels, so a
// few pixels may be left over at the edges).
std::vector<Rect> tile_layout(int tile_count, Size canvas);

// The largest rectangle with the aspect ratio of `picture` that fits inside `tile`,
// centred (letterbox / pillarbox). Even coordinates and sizes (at least 2x2) when
// `tile` has even coordinates and sizes. A degenerate picture (zero or negative
// size) fills the tile.
Rect fit_inside(Size picture, Rect tile);

// Layout while a screen share is on: the share takes the main area (left, full
// height; the share's picture is fitted inside it with fit_inside) and the
// participants go to a strip on the right, stacked top to bottom as 16:9 tiles and
// centred vertically. The strip holds at most screen_share_strip_capacity(canvas)
// tiles; `strip_tile_count` beyond that is capped (the compositor chooses who is
// shown). With strip_tile_count <= 0 the share takes the whole canvas.
struct ScreenShareLayout {
  Rect main;
  std::vector<Rect> strip;
};
ScreenShareLayout screen_share_layout(int strip_tile_count, Size canvas);
int screen_share_strip_capacity(Size canvas);

}  // namespace callrec::compositor
