#include "callrec/compositor/placeholder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <fontconfig/fontconfig.h>
#include <ft2build.h>
#include FT_FREETYPE_H

extern "C" {
#include <libavutil/frame.h>
}

#include "callrec/core/log.h"

namespace callrec::compositor {
namespace {

constexpr uint8_t kTextY = 235;  // white in limited range
constexpr uint8_t kTextChroma = 128;

uint64_t fnv1a_64(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// Decodes UTF-8; invalid sequences are skipped rather than fatal (names come from
// users).
std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    int extra = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      ++i;
      continue;
    }
    if (i + static_cast<size_t>(extra) >= text.size()) break;  // truncated sequence
    bool valid = true;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      if ((cc & 0xC0) != 0x80) valid = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    i += valid ? static_cast<size_t>(extra) + 1 : 1;
    if (valid) out.push_back(cp);
  }
  return out;
}

std::vector<std::u32string> split_words(std::u32string_view text, std::u32string_view separators) {
  std::vector<std::u32string> words;
  std::u32string word;
  for (char32_t c : text) {
    const bool is_space = c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == 0xA0;
    if (is_space || separators.find(c) != std::u32string_view::npos) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

char32_t upper(char32_t c) {
  if (c >= U'a' && c <= U'z') return c - U'a' + U'A';
  // Latin-1 supplement and basic Cyrillic/Greek lower-case blocks map by fixed offsets.
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 0x20;
  return c;
}

struct FontConfigDeleter {
  void operator()(FcConfig* config) const { FcConfigDestroy(config); }
};
struct PatternDeleter {
  void operator()(FcPattern* pattern) const { FcPatternDestroy(pattern); }
};

void fill_plane(uint8_t* data, int linesize, int width, int height, uint8_t value) {
  for (int y = 0; y < height; ++y) std::memset(data + static_cast<ptrdiff_t>(y) * linesize, value, width);
}

}  // namespace

YuvColour placeholder_colour(std::string_view participant_id) {
  // FNV-1a's low bits barely differ between short, similar ids ("p1", "p2"), so
  // the hash is finalised (splitmix64's mixer) before picking the hue.
  uint64_t hash = fnv1a_64(participant_id);
  hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ULL;
  hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  const double hue = static_cast<double>(hash % 360);
  const double saturation = 0.55;
  const double value = 0.62;
  // HSV -> RGB (0..1).
  const double c = value * saturation;
  const double h = hue / 60.0;
  const double x = c * (1.0 - std::fabs(std::fmod(h, 2.0) - 1.0));
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(h)) {
    case 0: r = c, g = x; break;
    case 1: r = x, g = c; break;
    case 2: g = c, b = x; break;
    case 3: g = x, b = c; break;
    case 4: r = x, b = c; break;
    default: r = c, b = x; break;
  }
  const double m = value - c;
  r += m, g += m, b += m;
  // BT.601 limited range.
  return YuvColour{to_byte(16.0 + 65.481 * r + 128.553 * g + 24.966 * b),
                   to_byte(128.0 - 37.797 * r - 74.203 * g + 112.0 * b),
                   to_byte(128.0 + 112.0 * r - 93.786 * g - 18.214 * b)};
}

std::u32string initials_of(std::string_view display_name, std::string_view participant_id) {
  auto words = split_words(decode_utf8(display_name), U"");
  if (words.empty()) words = split_words(decode_utf8(participant_id), U"-_.@");
  if (words.empty()) return U"?";
  std::u32string initials(1, upper(words.front().front()));
  if (words.size() > 1) initials.push_back(upper(words.back().front()));
  return initials;
}

void PlaceholderPainter::LibraryDeleter::operator()(FT_LibraryRec_* library) const { FT_Done_FreeType(library); }
void PlaceholderPainter::FaceDeleter::operator()(FT_FaceRec_* face) const { FT_Done_Face(face); }

std::optional<std::string> find_placeholder_font() {
  static const std::optional<std::string> found = []() -> std::optional<std::string> {
    // A configuration of its own (not fontconfig's process-wide one), released here.
    const std::unique_ptr<FcConfig, FontConfigDeleter> config(FcInitLoadConfigAndFonts());
    if (!config) return std::nullopt;
    const std::unique_ptr<FcPattern, PatternDeleter> pattern(
        FcNameParse(reinterpret_cast<const FcChar8*>("sans-serif:bold")));
    if (!pattern) return std::nullopt;
    FcConfigSubstitute(config.get(), pattern.get(), FcMatchPattern);
    FcDefaultSubstitute(pattern.get());
    FcResult result = FcResultNoMatch;
    const std::unique_ptr<FcPattern, PatternDeleter> match(FcFontMatch(config.get(), pattern.get(), &result));
    FcChar8* file = nullptr;
    if (!match || FcPatternGetString(match.get(), FC_FILE, 0, &file) != FcResultMatch || file == nullptr)
      return std::nullopt;
    return std::string(reinterpret_cast<const char*>(file));
  }();
  return found;
}

PlaceholderPainter::PlaceholderPainter(std::string font_path) : font_path_(std::move(font_path)) {}
PlaceholderPainter::~PlaceholderPainter() = default;

bool PlaceholderPainter::load_font() {
  if (face_) return true;
  if (font_tried_) return false;
  font_tried_ = true;
  const bool configured = !font_path_.empty();
  if (!configured) font_path_ = find_placeholder_font().value_or("");
  const auto degrade = [&](const std::string& why) {
    log_line(LogLevel::kWarning, "compositor: " + why + "; placeholder tiles show their colour without initials");
    return false;
  };
  if (font_path_.empty()) return degrade("fontconfig found no font for the placeholder initials");
  FT_Library library = nullptr;
  if (FT_Init_FreeType(&library) != 0) return degrade("cannot initialise FreeType");
  library_.reset(library);
  FT_Face face = nullptr;
  if (FT_New_Face(library_.get(), font_path_.c_str(), 0, &face) != 0)
    return degrade("cannot load the placeholder font " + font_path_ + (configured ? "" : " (found by fontconfig)"));
  face_.reset(face);
  return true;
}

bool PlaceholderPainter::draws_initials() { return load_font(); }

void PlaceholderPainter::paint(AVFrame& frame, YuvColour colour, std::u32string_view initials) {
  const int width = frame.width;
  const int height = frame.height;
  fill_plane(frame.data[0], frame.linesize[0], width, height, colour.y);
  fill_plane(frame.data[1], frame.linesize[1], (width + 1) / 2, (height + 1) / 2, colour.u);
  fill_plane(frame.data[2], frame.linesize[2], (width + 1) / 2, (height + 1) / 2, colour.v);
  if (initials.empty() || !load_font()) return;

  FT_Face face = face_.get();
  const int pixel_size = std::max(6, std::min(height * 2 / 5, width * 3 / 10));
  if (FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(pixel_size)) != 0) return;  // a bitmap font without this size
  // Pass 1: the ink box of the whole string, relative to the pen origin, so the text
  // is centred by its visible extent rather than by font metrics.
  int pen_x = 0;
  int ink_left = INT32_MAX, ink_right = INT32_MIN, ink_top = INT32_MIN, ink_bottom = INT32_MAX;
  for (char32_t c : initials) {
    if (FT_Load_Char(face, c, FT_LOAD_RENDER) != 0) continue;
    const FT_GlyphSlot g = face->glyph;
    if (g->bitmap.width > 0 && g->bitmap.rows > 0) {
      ink_left = std::min(ink_left, pen_x + g->bitmap_left);
      ink_right = std::max(ink_right, pen_x + g->bitmap_left + static_cast<int>(g->bitmap.width));
      ink_top = std::max(ink_top, g->bitmap_top);
      ink_bottom = std::min(ink_bottom, g->bitmap_top - static_cast<int>(g->bitmap.rows));
    }
    pen_x += static_cast<int>(g->advance.x >> 6);
  }
  if (ink_left > ink_right) return;  // nothing printable
  const int origin_x = (width - (ink_right - ink_left)) / 2 - ink_left;
  const int baseline_y = (height - (ink_top - ink_bottom)) / 2 + ink_top;

  // Pass 2: blend white over the tile with the glyph coverage as alpha. Chroma is
  // blended at the top-left pixel of each 2x2 block.
  pen_x = origin_x;
  for (char32_t c : initials) {
    if (FT_Load_Char(face, c, FT_LOAD_RENDER) != 0) continue;
    const FT_GlyphSlot g = face->glyph;
    const FT_Bitmap& bitmap = g->bitmap;
    const int left = pen_x + g->bitmap_left;
    const int top = baseline_y - g->bitmap_top;
    for (int row = 0; row < static_cast<int>(bitmap.rows); ++row) {
      const int y = top + row;
      if (y < 0 || y >= height) continue;
      const uint8_t* coverage = bitmap.buffer + static_cast<ptrdiff_t>(row) * bitmap.pitch;
      uint8_t* luma = frame.data[0] + static_cast<ptrdiff_t>(y) * frame.linesize[0];
      for (int col = 0; col < static_cast<int>(bitmap.width); ++col) {
        const int x = left + col;
        if (x < 0 || x >= width) continue;
        const int a = coverage[col];
        luma[x] = static_cast<uint8_t>(luma[x] + (kTextY - luma[x]) * a / 255);
        if ((x & 1) == 0 && (y & 1) == 0) {
          uint8_t& u = frame.data[1][static_cast<ptrdiff_t>(y / 2) * frame.linesize[1] + x / 2];
          uint8_t& v = frame.data[2][static_cast<ptrdiff_t>(y / 2) * frame.linesize[2] + x / 2];
          u = static_cast<uint8_t>(u + (kTextChroma - u) * a / 255);
          v = static_cast<uint8_t>(v + (kTextChroma - v) * a / 255);
        }
      }
    }
    pen_x += static_cast<int>(g->advance.x >> 6);
  }
}

}  // namespace callrec::compositor
