// callrec report, end to end: a generated call (joins, a leave, a pause, a screen share,
// a camera that stalls, a damaged file, several chunks) is rendered, its report made,
// and the page opened in Debian's headless Chromium. The page must load with no console
// error and no request but its own, show the contact sheet and the timeline on screen,
// and its timeline must match the call's script within one output period.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>

#include "callrec/core/wall_clock.h"
#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "headless_chromium.h"
#include "run_command.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;
namespace mg = mediagen;

constexpr int64_t kPeriodMs = 125;
constexpr int64_t kCallMs = 12'000;
constexpr int64_t kPauseMs = 9'500, kResumeMs = 10'500;  // call time
// The compositor shows the nearest picture within 2 s, so a camera that stops sending
// for longer shows the placeholder from 2 s after its last picture to 2 s before the
// next: that is what the recording holds, and what "camera" on the timeline means.
constexpr int64_t kStallMs = 2000;

// Output (recording) time of call time `t`: the pause is cut out.
int64_t out_ms(int64_t t) { return t <= kPauseMs ? t : t < kResumeMs ? kPauseMs : t - (kResumeMs - kPauseMs); }

struct Interval {
  int64_t start_ms;
  int64_t end_ms;
};

// The call's script, as the timeline must show it (recording time), per participant and
// kind. Stretches that the pause cuts out join up: output time runs on across a pause.
std::map<std::string, std::map<std::string, std::vector<Interval>>> expected_timeline() {
  auto span = [](int64_t a, int64_t b) { return Interval{out_ms(a), out_ms(b)}; };
  return {
      {"8:acs:ada",
       {{"present", {span(0, kCallMs)}},
        // Camera gap 4-10 s: placeholder 6-8 s.
        {"camera", {span(0, 4000 + kStallMs), span(10'000 - kStallMs, kCallMs)}},
        {"screenShare", {}},
        {"speaking", {span(1000, 4000), span(7000, 9000)}}}},
      {"8:acs:bob",
       {{"present", {span(3000, 9000)}},
        {"camera", {span(3000, 9000)}},
        {"screenShare", {}},
        {"speaking", {span(4000, 6000)}}}},
      {"8:acs:carol",
       {{"present", {span(0, kCallMs)}},
        {"camera", {}},
        {"screenShare", {span(5000, 9000)}},
        // 9-11 s with the pause (9.5-10.5 s) cut out: 9-10 s of recording.
        {"speaking", {span(9000, 11'000)}}}},
  };
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes the call's media and manifest into `dir`; returns the manifest's path.
fs::path write_call(const fs::path& dir) {
  mg::write_media(dir / "ada.webm",
                  {.duration_ms = kCallMs,
                   .video = mg::VideoSpec{.colour = {200, 40, 40}, .noise_amplitude = 30, .gaps = {{4000, 10'000}}},
                   .audio = mg::AudioSpec{.tones = {{1000, 4000, 440, 0.3}, {7000, 9000, 440, 0.3}}}});
  mg::write_media(dir / "bob.mp4", {.duration_ms = 6000,
                                    .video = mg::VideoSpec{.colour = {40, 160, 60}, .noise_amplitude = 30,
                                                           .encoder = "libx264"},
                                    .audio = mg::AudioSpec{.tones = {{1000, 3000, 660, 0.3}}, .encoder = "aac"}});
  mg::write_media(dir / "carol.ogg", {.duration_ms = kCallMs, .audio = mg::AudioSpec{.tones = {{9000, 11'000, 550, 0.3}}}});
  mg::write_media(dir / "carol-screen.mp4",
                  {.duration_ms = 4000, .video = mg::VideoSpec{.colour = {230, 230, 240}, .encoder = "libx264"}});
  // Dan's file is damaged: bit flips in its media data (headers kept), and it is cut
  // short (as an upload that broke off).
  mg::write_media(dir / "dan-clean.webm", {.duration_ms = kCallMs,
                                           .video = mg::VideoSpec{.colour = {40, 60, 200}},
                                           .audio = mg::AudioSpec{.tones = {{0, kCallMs, 300, 0.05}}}});
  std::vector<uint8_t> bytes = read_bytes(dir / "dan-clean.webm");
  std::mt19937 rng(21);
  std::uniform_int_distribution<size_t> pos(bytes.size() / 4, bytes.size() * 3 / 4);
  for (int n = 0; n < 60; ++n) bytes[pos(rng)] ^= static_cast<uint8_t>(1u << (rng() % 8));
  bytes.resize(bytes.size() * 6 / 10);
  std::ofstream(dir / "dan.webm", std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                           static_cast<std::streamsize>(bytes.size()));
  const fs::path manifest = dir / "call.json";
  std::ofstream(manifest) << R"({
    "callId": "report-call", "recordingStartTime": "2026-11-27T10:00:00Z",
    "participants": [
      {"participantId": "8:acs:ada", "displayName": "Ada Lovelace", "media": [{"file": "ada.webm", "offsetMs": 0}]},
      {"participantId": "8:acs:bob", "displayName": "Bob <b>Marley</b>", "media": [{"file": "bob.mp4", "offsetMs": 3000}]},
      {"participantId": "8:acs:carol", "displayName": "Carol Shaw", "media": [
        {"file": "carol.ogg", "offsetMs": 0}, {"file": "carol-screen.mp4", "offsetMs": 5000, "role": "screen"}]},
      {"participantId": "8:acs:dan", "displayName": "Dan Bricklin", "media": [{"file": "dan.webm", "offsetMs": 0}]}
    ],
    "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 9500, "action": "pause"},
                 {"atMs": 10500, "action": "resume"}, {"atMs": 12000, "action": "stop"}]})";
  return manifest;
}

class ReportPageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_QUIET);
    dir_ = new fs::path(fresh_dir("report-page"));
    const fs::path manifest = write_call(*dir_);
    render_ = new CommandResult(run_command({CALLREC_BINARY, "render", manifest.string(), "--out",
                                             (*dir_ / "out").string(), "--quiet", "--max-chunk-bytes", "400000"}));
    report_ = new CommandResult(run_command(
        {CALLREC_BINARY, "report", (*dir_ / "out").string(), "--out", (*dir_ / "report.html").string()}));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete render_;
    delete report_;
  }
  void SetUp() override {
    ASSERT_EQ(render_->exit_code, 0) << render_->err;
    ASSERT_EQ(report_->exit_code, 0) << report_->err;
    ASSERT_GE(published_files(*dir_ / "out", ".mp4").size(), 2u) << "the call must span several chunks";
  }

  static fs::path* dir_;
  static CommandResult* render_;
  static CommandResult* report_;
};

fs::path* ReportPageTest::dir_ = nullptr;
CommandResult* ReportPageTest::render_ = nullptr;
CommandResult* ReportPageTest::report_ = nullptr;

TEST_F(ReportPageTest, PageLoadsOfflineShowsSheetAndTimelineThatMatchTheScript) {
  HeadlessChromium browser(1280, 900);
  const std::string url = "file://" + (*dir_ / "report.html").string();
  browser.open(url);

  // No console error, no exception, no blocked resource.
  EXPECT_TRUE(browser.errors().empty()) << ::testing::PrintToString(browser.errors());
  // No request but the page itself (inline pictures may show as data: URLs).
  for (const std::string& r : browser.requests())
    EXPECT_TRUE(r == url || r.rfind("data:", 0) == 0) << "the page requested " << r;
  EXPECT_FALSE(browser.requests().empty()) << "the protocol saw no request at all: is Network watched?";

  // The DOM: the timeline's stretches, the contact sheet's pictures (decoded), and where
  // both sections lie on the page.
  const nlohmann::json dom = browser.evaluate(R"((() => {
    const box = e => { const r = e.getBoundingClientRect();
                       return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; };
    return {
      spans: [...document.querySelectorAll('#timeline-svg g.lane rect.span')].map(r => ({
        p: r.parentNode.dataset.participant, k: r.parentNode.dataset.kind, s: +r.dataset.startMs, e: +r.dataset.endMs})),
      pictures: [...document.querySelectorAll('#contact-sheet figure img')].map(i => ({
        ok: i.complete && i.naturalWidth > 0, nw: i.naturalWidth, box: box(i)})),
      chunkMarks: document.querySelectorAll('#contact-sheet .chunk-start').length,
      pauseMarks: document.querySelectorAll('#contact-sheet .pause-mark[data-ms]').length,
      timeline: box(document.querySelector('#timeline-svg')),
      sheet: box(document.querySelector('#contact-sheet .sheet')),
      problems: document.querySelectorAll('#problems .problem-row').length,
      problemMarks: [...document.querySelectorAll('#timeline-svg path.problem')].map(p => +p.dataset.ms),
      shaOk: document.querySelectorAll('#chunks .sha-ok').length,
      chunkRows: document.querySelectorAll('#chunks tbody tr').length,
      bob: [...document.querySelectorAll('#timeline-svg text')].some(t => t.textContent.includes('Bob <b>Marley</b>')),
    };
  })())");

  // The timeline matches the script within one output period, stretch for stretch.
  std::map<std::string, std::map<std::string, std::vector<Interval>>> shown;
  for (const nlohmann::json& s : dom["spans"]) shown[s["p"]][s["k"]].push_back({s["s"], s["e"]});
  for (const auto& [participant, kinds] : expected_timeline()) {
    for (const auto& [kind, want] : kinds) {
      const std::vector<Interval>& got = shown[participant][kind];
      ASSERT_EQ(got.size(), want.size()) << participant << " " << kind << ": " << dom["spans"].dump();
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_NEAR(got[i].start_ms, want[i].start_ms, kPeriodMs) << participant << " " << kind << " #" << i;
        EXPECT_NEAR(got[i].end_ms, want[i].end_ms, kPeriodMs) << participant << " " << kind << " #" << i;
      }
    }
  }
  EXPECT_FALSE(shown["8:acs:dan"]["present"].empty()) << "the damaged participant is still on the timeline";
  EXPECT_TRUE(dom["bob"].get<bool>()) << "a display name with markup is shown as text";

  // The contact sheet: a picture every 2 s of the 11 s, all decoded, chunk starts and
  // the pause marked; the damaged file's problems listed; every chunk's digest checked.
  const size_t chunks = published_files(*dir_ / "out", ".mp4").size();
  EXPECT_GE(dom["pictures"].size(), 5u);
  for (const nlohmann::json& p : dom["pictures"]) EXPECT_TRUE(p["ok"].get<bool>()) << p.dump();
  EXPECT_EQ(dom["chunkMarks"].get<size_t>(), chunks);
  EXPECT_EQ(dom["pauseMarks"].get<int>(), 1);
  EXPECT_GE(dom["problems"].get<int>(), 1) << "the damaged file's problems are not listed; render said: " << render_->err;
  // Each is dated (the time its file had been decoded to) and marked on the timeline.
  EXPECT_EQ(dom["problemMarks"].size(), dom["problems"].get<size_t>());
  for (const nlohmann::json& ms : dom["problemMarks"]) {
    EXPECT_GE(ms.get<int64_t>(), 0);
    EXPECT_LE(ms.get<int64_t>(), out_ms(kCallMs));
  }
  EXPECT_EQ(dom["shaOk"].get<size_t>(), chunks);
  EXPECT_EQ(dom["chunkRows"].get<size_t>(), chunks);

  // The screenshot shows both: the timeline's lanes in their colours, and the pictures.
  const RgbImage shot = decode_png(browser.screenshot_png());
  auto count_near = [&](const nlohmann::json& box, uint8_t r, uint8_t g, uint8_t b, int tolerance) {
    int64_t n = 0;
    const int x0 = std::max(0, box["x"].get<int>()), y0 = std::max(0, box["y"].get<int>());
    const int x1 = std::min(shot.width, x0 + box["w"].get<int>()), y1 = std::min(shot.height, y0 + box["h"].get<int>());
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const uint8_t* px = shot.at(x, y);
        if (std::abs(px[0] - r) <= tolerance && std::abs(px[1] - g) <= tolerance && std::abs(px[2] - b) <= tolerance) ++n;
      }
    return n;
  };
  ASSERT_GT(dom["timeline"]["w"].get<double>(), 600);
  EXPECT_GT(count_near(dom["timeline"], 0xe0, 0x8a, 0x1e, 8), 500) << "no speaking lanes on screen";
  EXPECT_GT(count_near(dom["timeline"], 0x3d, 0x9a, 0x5b, 8), 500) << "no camera lanes on screen";
  EXPECT_GT(count_near(dom["timeline"], 0x8a, 0x5c, 0xc2, 8), 100) << "no screen-share lane on screen";
  // Ada's red tile fills a quarter of the first pictures (2x2 grid).
  const nlohmann::json& first = dom["pictures"][0]["box"];
  ASSERT_GT(first["w"].get<double>(), 100);
  EXPECT_GT(count_near(first, 200, 40, 40, 40), first["w"].get<int>() * first["h"].get<int>() / 10)
      << "the first picture of the contact sheet does not show Ada's tile";
  EXPECT_LT(dom["timeline"]["y"].get<double>(), dom["sheet"]["y"].get<double>());
  EXPECT_LT(dom["sheet"]["y"].get<double>() + dom["sheet"]["h"].get<double>(), shot.height + 1.0);
}

// The browser harness itself sees what the report test must not find: a console error,
// an uncaught exception, and a request leaving the page (to a loopback port nothing
// listens on).
TEST(HeadlessChromiumHarness, SeesConsoleErrorsExceptionsAndRequests) {
  const fs::path dir = fresh_dir("chromium-harness");
  std::ofstream(dir / "bad.html") << "<!DOCTYPE html><html><body><p>bad</p>"
                                     "<img src=\"http://127.0.0.1:9/pixel.png\">"
                                     "<script>console.error('broken'); undefinedFunction();</script></body></html>";
  HeadlessChromium browser(800, 600);
  const std::string url = "file://" + (dir / "bad.html").string();
  browser.open(url);
  const std::vector<std::string> errors = browser.errors();
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(), [](const std::string& e) {
    return e.find("broken") != std::string::npos;
  })) << ::testing::PrintToString(errors);
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(), [](const std::string& e) {
    return e.find("undefinedFunction") != std::string::npos;
  })) << ::testing::PrintToString(errors);
  const std::vector<std::string> requests = browser.requests();
  EXPECT_NE(std::find(requests.begin(), requests.end(), "http://127.0.0.1:9/pixel.png"), requests.end())
      << ::testing::PrintToString(requests);
  EXPECT_EQ(browser.evaluate("document.querySelector('p').textContent"), "bad");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace callrec::testing
