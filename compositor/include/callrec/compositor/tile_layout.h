// TileLayout: where each participant's tile goes on the canvas. Pure geometry.
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

// Grid for `tile_count` tiles on `canvas`, in display order (row by row, left to
// right). 1 -> full canvas; 2 -> side by side; 3-4 -> 2x2; 5-6 -> 3x2; 7-9 -> 3x3;
// then the smallest near-square grid up to 7x7. A partial last row is centred.
// Rectangles have even coordinates and sizes (yuv420p chroma alignment).
std::vector<Rect> tile_layout(int tile_count, Size canvas);

// The largest rectangle with the aspect ratio of `picture` that fits inside `tile`,
// centred (letterbox / pillarbox). Even coordinates and sizes.
Rect fit_inside(Size picture, Rect tile);

}  // namespace callrec::compositor
