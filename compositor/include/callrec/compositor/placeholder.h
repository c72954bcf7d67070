// Placeholder tiles: what a participant without a (live) picture looks like.
//
// A solid colour derived deterministically from the participantId, with the
// initials of the display name drawn centred in white with FreeType, in a font found
// through fontconfig (or a configured one). Without any font, the colour alone.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

extern "C" {
struct AVFrame;
struct FT_LibraryRec_;
struct FT_FaceRec_;
}

namespace callrec::compositor {

// One colour in limited-range BT.601 YCbCr (what yuv420p carries).
struct YuvColour {
  uint8_t y;
  uint8_t u;
  uint8_t v;
  friend bool operator==(const YuvColour&, const YuvColour&) = default;
};

// Tile colour for a participant: hue from a stable hash (FNV-1a) of the id, medium
// saturation and brightness, so white initials and the dark background both stand out.
// The same id gives the same colour in every run and on every machine.
YuvColour placeholder_colour(std::string_view participant_id);

// Up to two initials: the first letters of the first and the last word of
// `display_name` (words split at white space), upper-cased; taken from
// `participant_id` (words split at white space, '-', '_', '.', '@') when the name has
// none; "?" when neither has. UTF-8 in, code points out.
std::u32string initials_of(std::string_view display_name, std::string_view participant_id);

// The file of a bold sans-serif font as fontconfig matches it on this machine (Debian's
// fonts-dejavu-core gives DejaVu Sans Bold), or nullopt when it has no font at all.
// Looked up once per process; thread-safe.
std::optional<std::string> find_placeholder_font();

// Paints placeholder tiles. Owns the FreeType library and face, loaded on first
// paint. Threading: used by one thread (the compositor's owner).
class PlaceholderPainter {
 public:
  // `font_path`: the font for the initials; empty: find_placeholder_font(). When no
  // font can be loaded, tiles show their colour without initials and one warning goes
  // to the thread's log sink (callrec/core/log.h): a missing font is never an error.
  explicit PlaceholderPainter(std::string font_path = {});
  ~PlaceholderPainter();
  PlaceholderPainter(const PlaceholderPainter&) = delete;
  PlaceholderPainter& operator=(const PlaceholderPainter&) = delete;

  // Fills `frame` (yuv420p, allocated, writable) with `colour` and, when a font is
  // available, `initials` centred.
  void paint(AVFrame& frame, YuvColour colour, std::u32string_view initials);

  // Whether initials are drawn: a font was loaded (tried on the first paint()).
  bool draws_initials();

 private:
  struct LibraryDeleter { void operator()(FT_LibraryRec_* library) const; };
  struct FaceDeleter { void operator()(FT_FaceRec_* face) const; };
  // Loads the font on first use; false (once warned) when there is none.
  bool load_font();

  std::string font_path_;
  bool font_tried_ = false;
  std::unique_ptr<FT_LibraryRec_, LibraryDeleter> library_;
  std::unique_ptr<FT_FaceRec_, FaceDeleter> face_;  // destroyed before library_
};

}  // namespace callrec::compositor
