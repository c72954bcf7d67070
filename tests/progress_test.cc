// Progress of an offline render: how far into the call it is, against where the call
// ends. Browsers' MediaRecorder writes WebM without a duration in its header; the end
// of such a call was once taken as its last file's offset, so the progress said "100%
// of the call" with a quarter of it recorded. Now: the timeline's stop when there is
// one, else the files' stated durations, else an estimate said to be one.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "callrec/engine/manifest.h"
#include "callrec/engine/offline_renderer.h"
#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;
namespace mg = mediagen;

void write_webm(const fs::path& path, int64_t duration_ms, bool live) {
  mg::write_media(path, {.duration_ms = duration_ms,
                         .video = mg::VideoSpec{},
                         .audio = mg::AudioSpec{.tones = {{0, duration_ms, 440}}},
                         .live = live});
}

// Ada's 16 s from the start, Bob's 8 s from 4 s: the call ends at 16 s.
std::vector<engine::RenderProgress> render(const fs::path& dir, const std::string& timeline) {
  const engine::Manifest manifest = engine::parse_manifest(
      R"({"callId": "progress", "recordingStartTime": "2026-11-27T10:00:00Z",
          "participants": [{"participantId": "ada", "media": [{"file": "ada.webm", "offsetMs": 0}]},
                           {"participantId": "bob", "media": [{"file": "bob.webm", "offsetMs": 4000}]}])" +
          timeline + "}",
      "call.json", dir);
  std::vector<engine::RenderProgress> reports;
  fs::remove_all(dir / "out");
  engine::render_call(manifest, {.out_dir = dir / "out", .on_progress = [&](const engine::RenderProgress& p) {
                                   reports.push_back(p);
                                 }});
  return reports;
}

constexpr int64_t kCallEndUs = 16'000'000;

TEST(ProgressTest, FilesWithoutADurationGiveAnEstimateSaidToBeOne) {
  const fs::path dir = fresh_dir("progress-headerless");
  write_webm(dir / "ada.webm", 16000, /*live=*/true);
  write_webm(dir / "bob.webm", 8000, /*live=*/true);
  const std::vector<engine::RenderProgress> reports = render(dir, "");
  ASSERT_GE(reports.size(), 120u);
  double worst_error = 0;
  for (const engine::RenderProgress& p : reports) {
    ASSERT_TRUE(p.call_end_us.has_value());
    const double pct = 100.0 * static_cast<double>(p.call_us) / static_cast<double>(*p.call_end_us);
    const double true_pct = 100.0 * static_cast<double>(p.call_us) / kCallEndUs;
    SCOPED_TRACE("at " + std::to_string(p.call_us) + " us: end " + std::to_string(*p.call_end_us) + " us");
    if (p.call_us < 15'000'000) {
      EXPECT_TRUE(p.call_end_estimated) << "the files state no duration";
    }
    // After the call's first second, the percent shown is within 10 points of the truth
    // (the end itself within a quarter of the call's length).
    if (p.call_us >= 1'000'000) {
      worst_error = std::max(worst_error, std::abs(pct - true_pct));
      EXPECT_NEAR(pct, true_pct, 10.0);
      EXPECT_NEAR(static_cast<double>(*p.call_end_us), kCallEndUs, kCallEndUs / 4.0);
    }
  }
  std::printf("progress without durations: worst error %.1f percentage points after the first second\n", worst_error);
  // Where the old progress said 100%: a quarter of the call.
  for (const engine::RenderProgress& p : reports) {
    if (p.call_us >= 3'750'000 && p.call_us < 4'000'000) {
      EXPECT_LT(100.0 * static_cast<double>(p.call_us) / static_cast<double>(*p.call_end_us), 35.0);
    }
  }
}

TEST(ProgressTest, TheTimelinesStopIsTheExactEnd) {
  const fs::path dir = fresh_dir("progress-stop");
  write_webm(dir / "ada.webm", 16000, /*live=*/true);
  write_webm(dir / "bob.webm", 8000, /*live=*/true);
  const std::vector<engine::RenderProgress> reports =
      render(dir, R"(, "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 12000, "action": "stop"}])");
  ASSERT_FALSE(reports.empty());
  for (const engine::RenderProgress& p : reports) {
    EXPECT_EQ(p.call_end_us, 12'000'000);
    EXPECT_FALSE(p.call_end_estimated);
  }
}

TEST(ProgressTest, StatedDurationsAreNoEstimate) {
  const fs::path dir = fresh_dir("progress-stated");
  write_webm(dir / "ada.webm", 16000, /*live=*/false);
  write_webm(dir / "bob.webm", 8000, /*live=*/false);
  const std::vector<engine::RenderProgress> reports = render(dir, "");
  ASSERT_FALSE(reports.empty());
  for (const engine::RenderProgress& p : reports) {
    ASSERT_TRUE(p.call_end_us.has_value());
    EXPECT_FALSE(p.call_end_estimated);
    EXPECT_NEAR(static_cast<double>(*p.call_end_us), kCallEndUs, 100'000.0);
  }
}

}  // namespace
}  // namespace callrec::testing
