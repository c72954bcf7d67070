// The report page's text helpers.
#include <gtest/gtest.h>

#include "callrec/core/wall_clock.h"
#include "html_text.h"

namespace callrec::report {
namespace {

TEST(HtmlText, EscapesEverythingThatCouldOpenMarkup) {
  EXPECT_EQ(html_escape(R"(<script>alert("x" & 'y')</script>)"),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
  EXPECT_EQ(html_escape(std::string("a\x01" "b")), "a&#xFFFD;b");
  EXPECT_EQ(html_escape("Zoë ✓"), "Zoë ✓");
}

TEST(HtmlText, DataUriIsBase64) {
  EXPECT_EQ(data_uri("image/jpeg", "abc"), "data:image/jpeg;base64,YWJj");
  EXPECT_EQ(data_uri("text/plain", ""), "data:text/plain;base64,");
}

TEST(HtmlText, TimesReadAsPeopleWriteThem) {
  EXPECT_EQ(format_media_time(0), "0:00");
  EXPECT_EQ(format_media_time(65'250, true), "1:05.250");
  EXPECT_EQ(format_media_time(3'723'000), "1:02:03");
  const int64_t t = parse_iso8601("2026-11-27T10:00:12.250Z")->unix_us;
  EXPECT_EQ(format_time_of_day(t), "10:00:12");
  EXPECT_EQ(format_time_of_day(t, true), "10:00:12.250Z");
  EXPECT_EQ(format_duration(10'000), "10 s");
  EXPECT_EQ(format_duration(2'500), "2.5 s");
  EXPECT_EQ(format_duration(125'000), "2 min 5 s");
  EXPECT_EQ(format_bytes(536'870'912), "536.9 MB");
}

}  // namespace
}  // namespace callrec::report
