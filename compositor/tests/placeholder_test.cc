#include "callrec/compositor/placeholder.h"

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/frame.h>
}

#include <filesystem>
#include <string>
#include <vector>

#include "callrec/compositor/video_compositor.h"
#include "callrec/core/av.h"
#include "callrec/core/log.h"

namespace callrec::compositor {
namespace {

TEST(Initials, FirstAndLastWordOfTheName) {
  EXPECT_EQ(initials_of("Ada Lovelace", "p1"), U"AL");
  EXPECT_EQ(initials_of("john ronald reuel tolkien", "p1"), U"JT");
  EXPECT_EQ(initials_of("  grace  ", "p1"), U"G");
  EXPECT_EQ(initials_of("\xC3\xA9mile Zola", "p1"), U"\u00C9Z");  // émile -> É
}

TEST(Initials, FromTheIdWhenNoName) {
  EXPECT_EQ(initials_of("", "alan-turing"), U"AT");
  EXPECT_EQ(initials_of("   ", "bob"), U"B");
  EXPECT_EQ(initials_of("", ""), U"?");
}

TEST(PlaceholderColour, StablePerIdAndDistinct) {
  EXPECT_EQ(placeholder_colour("ada"), placeholder_colour("ada"));
  EXPECT_NE(placeholder_colour("ada"), placeholder_colour("bob"));
  // Fixed value: the colour must not change between runs or builds.
  const YuvColour ada = placeholder_colour("ada");
  EXPECT_EQ(ada, (YuvColour{102, 157, 150}));
  for (const char* id : {"ada", "bob", "carol", "dave", "x", ""}) {
    const YuvColour c = placeholder_colour(id);
    EXPECT_GE(c.y, 60) << id;  // medium brightness: distinct from dark background
    EXPECT_LE(c.y, 170) << id;  // and from white initials
  }
  EXPECT_EQ(ada, placeholder_colour(std::string("ad") + "a"));
}

TEST(PlaceholderPainter, FindsAFontThroughFontconfig) {
  const std::optional<std::string> font = find_placeholder_font();
  ASSERT_TRUE(font.has_value()) << "fonts-dejavu-core is one of callrec's packages: fontconfig must find a font";
  EXPECT_TRUE(std::filesystem::is_regular_file(*font)) << *font;
  PlaceholderPainter painter;  // no path: the one fontconfig found
  EXPECT_TRUE(painter.draws_initials());
}

TEST(PlaceholderPainter, DrawsInitialsOverTheColour) {
  PlaceholderPainter painter;
  av::FramePtr frame = av::make_frame();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = 320;
  frame->height = 180;
  ASSERT_GE(av_frame_get_buffer(frame.get(), 0), 0);
  const YuvColour colour{100, 90, 160};
  painter.paint(*frame, colour, U"AL");
  int text = 0, plain = 0;
  for (int y = 0; y < 180; ++y) {
    for (int x = 0; x < 320; ++x) {
      const uint8_t v = frame->data[0][y * frame->linesize[0] + x];
      text += v > 200;
      plain += v == colour.y;
    }
  }
  EXPECT_GT(text, 500);            // the letters are there
  EXPECT_GT(plain, 320 * 180 / 2);  // most of the tile is the colour
  // Corners are untouched colour; the ink is centred (left and right halves both
  // have text).
  EXPECT_EQ(frame->data[0][0], colour.y);
  EXPECT_EQ(frame->data[1][0], colour.u);
  int left = 0, right = 0;
  for (int y = 0; y < 180; ++y) {
    for (int x = 0; x < 320; ++x) (x < 160 ? left : right) += frame->data[0][y * frame->linesize[0] + x] > 200;
  }
  EXPECT_GT(left, 100);
  EXPECT_GT(right, 100);
}

// Without a font, a placeholder is its colour alone: never an error, one warning.
TEST(PlaceholderPainter, MissingFontDegradesToPlainTilesWithOneWarning) {
  std::vector<std::string> warnings;
  const LogSink sink{.callback = [&](LogLevel, std::string_view line) { warnings.emplace_back(line); },
                     .level = LogLevel::kWarning};
  const ScopedLogSink scope(sink);
  PlaceholderPainter painter("/nonexistent/font.ttf");
  av::FramePtr frame = av::make_frame();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = 64;
  frame->height = 64;
  ASSERT_GE(av_frame_get_buffer(frame.get(), 0), 0);
  const YuvColour colour{100, 90, 160};
  for (int i = 0; i < 3; ++i) {
    painter.paint(*frame, colour, U"AL");
    for (int y = 0; y < 64; ++y) {
      for (int x = 0; x < 64; ++x) ASSERT_EQ(frame->data[0][y * frame->linesize[0] + x], colour.y) << x << "," << y;
    }
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 32; ++x) {
        ASSERT_EQ(frame->data[1][y * frame->linesize[1] + x], colour.u);
        ASSERT_EQ(frame->data[2][y * frame->linesize[2] + x], colour.v);
      }
    }
  }
  EXPECT_FALSE(painter.draws_initials());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("/nonexistent/font.ttf"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("without initials"), std::string::npos) << warnings[0];
}

// The compositor as a whole keeps composing without a font: placeholder tiles in colour.
TEST(PlaceholderPainter, CompositorWithoutAFontComposesPlainPlaceholders) {
  VideoCompositor compositor(CompositorConfig{.canvas = {320, 180}, .placeholder_font_path = "/nonexistent/font.ttf"});
  compositor.join("ada", "Ada Lovelace");
  const AVFrame& canvas = compositor.compose(MediaTime::from_ms(0));
  const YuvColour colour = placeholder_colour("ada");
  // One participant: the whole canvas is their tile, in their colour, with no ink.
  int ink = 0;
  for (int y = 0; y < 180; ++y) {
    for (int x = 0; x < 320; ++x) ink += canvas.data[0][y * canvas.linesize[0] + x] != colour.y;
  }
  EXPECT_EQ(ink, 0);
  EXPECT_EQ(canvas.data[1][45 * canvas.linesize[1] + 80], colour.u);
}

}  // namespace
}  // namespace callrec::compositor
