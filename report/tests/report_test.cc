// make_report_html on a real recording (rendered here by the engine): every section is
// there, the page names no outside resource, markup in names stays text, and damage to
// the recording (a chunk whose bytes changed, a chunk whose .mp4 is gone) is shown in
// the page rather than thrown.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include "callrec/core/error.h"
#include "callrec/engine/manifest.h"
#include "callrec/engine/offline_renderer.h"
#include "callrec/mediagen/media_generator.h"
#include "callrec/report/report.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::report {
namespace {

namespace fs = std::filesystem;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_QUIET);
    dir_ = fs::temp_directory_path() / ("callrec-report-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    mediagen::write_media(dir_ / "ada.webm",
                          {.duration_ms = 6000,
                           .video = mediagen::VideoSpec{.noise_amplitude = 40},
                           .audio = mediagen::AudioSpec{.tones = {{1000, 3000, 440, 0.3}}}});
    std::ofstream(dir_ / "call.json") << R"({"callId": "report-unit", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [{"participantId": "8:acs:<script>x</script>", "displayName": "<img src=http://x/>",
                        "media": [{"file": "ada.webm", "offsetMs": 0}]}]})";
    engine::RenderOptions options;
    options.out_dir = dir_ / "out";
    options.max_chunk_bytes = 250'000;
    // An average rate: at the default constant quality the noisy picture's first keyframe
    // alone (about 330 kB) would not fit these small chunks.
    options.encoder.video_rate_control = muxer::VideoRateControl::kAverageBitrate;
    options.encoder.video_bitrate_bps = 1'000'000;
    // A throw here would make gtest skip every test (ctest counts skips as passes): the
    // error is kept and each test fails on it instead.
    try {
      engine::render_call(engine::load_manifest(dir_ / "call.json"), options);
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << "rendering the test call: " << setup_error_; }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::vector<fs::path> chunks(const fs::path& recording = dir_ / "out") {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(recording))
      if (e.path().extension() == ".mp4") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  static fs::path dir_;
  static std::string setup_error_;
};

fs::path ReportTest::dir_;
std::string ReportTest::setup_error_;

TEST_F(ReportTest, EverySectionIsThereAndNothingComesFromOutside) {
  ReportFacts facts;
  const std::string html = make_report_html(dir_ / "out", {}, &facts);
  const size_t n = chunks().size();
  ASSERT_GE(n, 2u);
  EXPECT_EQ(facts.chunks, static_cast<int>(n));
  EXPECT_EQ(facts.sha256_mismatches, 0);
  EXPECT_EQ(facts.findings, 0);
  for (const char* id : {"id=\"timeline\"", "id=\"audio-level\"", "id=\"contact-sheet\"", "id=\"chunks\"", "id=\"problems\""})
    EXPECT_NE(html.find(id), std::string::npos) << id;
  EXPECT_EQ(count(html, "class=\"ok sha-ok\""), n);
  EXPECT_EQ(count(html, "<figure "), static_cast<size_t>(facts.pictures));
  EXPECT_GE(facts.pictures, 3);  // 6 s, a picture every 2 s
  EXPECT_NE(html.find("data-kind=\"speaking\""), std::string::npos);
  // Nothing but data: URIs: no src/href to anything else, no script at all.
  for (const std::string attribute : {"src=\"", "href=\""})
    for (size_t at = html.find(attribute); at != std::string::npos; at = html.find(attribute, at + 1))
      EXPECT_EQ(html.compare(at + attribute.size(), 5, "data:"), 0) << html.substr(at, 60);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img src=http"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=http://x/&gt;"), std::string::npos);
}

TEST_F(ReportTest, DamageIsShownInThePage) {
  const fs::path damaged = dir_ / "damaged";
  fs::remove_all(damaged);
  fs::copy(dir_ / "out", damaged);
  const std::vector<fs::path> mp4s = chunks(damaged);
  ASSERT_GE(mp4s.size(), 2u);
  {  // Chunk 0: one byte changed in the middle (its digest no longer matches).
    std::fstream f(mp4s[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(mp4s[0]) / 2));
    const char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(fs::file_size(mp4s[0]) / 2));
    f.put(static_cast<char>(c ^ 0x40));
  }
  fs::remove(mp4s[1]);  // chunk 1: gone
  if (mp4s.size() > 2) {  // chunk 2: a link to a file elsewhere
    fs::remove(mp4s[2]);
    fs::create_symlink(dir_ / "ada.webm", mp4s[2]);
  }
  ReportFacts facts;
  const std::string html = make_report_html(damaged, {}, &facts);
  EXPECT_EQ(facts.sha256_mismatches, 1);
  EXPECT_EQ(count(html, "sha-bad"), 1u);
  EXPECT_NE(html.find(mp4s[1].filename().string() + ": missing"), std::string::npos);
  EXPECT_NE(html.find(".mp4 missing"), std::string::npos);
  EXPECT_GE(facts.findings, 2);
  if (mp4s.size() > 2) {
    EXPECT_NE(html.find(mp4s[2].filename().string() + ": a symbolic link"), std::string::npos);
  }
}

// What the service's DELETE /recording/download/{documentId} (and its retention) does:
// both files of a chunk gone while recording.json still lists it. The page is made and
// says so (it threw nlohmann's type_error before: the chunk's metadata was null).
TEST_F(ReportTest, AChunkDeletedWithItsMetadataIsShownMissing) {
  const fs::path deleted = dir_ / "deleted";
  fs::remove_all(deleted);
  fs::copy(dir_ / "out", deleted);
  const std::vector<fs::path> mp4s = chunks(deleted);
  ASSERT_GE(mp4s.size(), 2u);
  fs::path json = mp4s[1];
  json.replace_extension(".json");
  fs::remove(mp4s[1]);
  fs::remove(json);
  ReportFacts facts;
  const std::string html = make_report_html(deleted, {}, &facts);
  EXPECT_EQ(facts.chunks, static_cast<int>(mp4s.size()));
  EXPECT_NE(html.find(json.filename().string() + ": missing"), std::string::npos);
  EXPECT_NE(html.find(mp4s[1].filename().string() + ": missing"), std::string::npos);
  EXPECT_EQ(count(html, "class=\"ok sha-ok\""), mp4s.size() - 1);
}

TEST_F(ReportTest, ADirectoryWithoutARecordingIsAnError) {
  EXPECT_THROW(make_report_html(dir_), Error);  // the call's media, no recording
  EXPECT_THROW(make_report_html(dir_ / "missing"), Error);
}

}  // namespace
}  // namespace callrec::report
