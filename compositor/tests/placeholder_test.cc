#include "callrec/compositor/placeholder.h"

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/frame.h>
}

#include "callrec/core/av.h"
#include "callrec/core/error.h"

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

TEST(PlaceholderPainter, DrawsInitialsOverTheColour) {
  PlaceholderPainter painter(
      "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf");
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

TEST(PlaceholderPainter, MissingFontIsAClearError) {
  PlaceholderPainter painter("/nonexistent/font.ttf");
  av::FramePtr frame = av::make_frame();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = 64;
  frame->height = 64;
  ASSERT_GE(av_frame_get_buffer(frame.get(), 0), 0);
  try {
    painter.paint(*frame, YuvColour{100, 128, 128}, U"A");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/font.ttf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace callrec::compositor
