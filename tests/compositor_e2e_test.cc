// End to end evidence for the compositor: generated calls rendered by the callrec binary,
// the output pictures decoded and measured at the rectangles compositor::tile_layout()
// says each participant should occupy; plus an A/V sync marker test on one participant.
//
// Inputs are tiny (64x36 and the like) so that decoding them costs nothing; the output is
// the product's 1920x1080 canvas.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>

#include "callrec/compositor/placeholder.h"
#include "callrec/compositor/tile_layout.h"
#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace mg = mediagen;
using compositor::Rect;

constexpr compositor::Size kCanvas{1920, 1080};

Yuv expected_yuv(mg::Rgb c) {  // BT.601 limited range, as mediagen writes it
  const double r = c.r, g = c.g, b = c.b;
  return Yuv{static_cast<int>(std::lround(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255)),
             static_cast<int>(std::lround(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255)),
             static_cast<int>(std::lround(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255))};
}

int distance(Yuv a, Yuv b) { return std::abs(a.y - b.y) + std::abs(a.u - b.u) + std::abs(a.v - b.v); }

std::string show(Yuv c) {
  return "(" + std::to_string(c.y) + "," + std::to_string(c.u) + "," + std::to_string(c.v) + ")";
}

// 49 well-separated colours: RGB levels {30, 100, 170, 240}^3 in a scrambled order.
mg::Rgb palette(int i) {
  const int code = (i * 37) % 64;  // 37 is coprime with 64: a permutation
  const uint8_t levels[4] = {30, 100, 170, 240};
  return mg::Rgb{levels[code % 4], levels[(code / 4) % 4], levels[code / 16]};
}

std::pair<int, int> centre(const Rect& r) { return {r.x + r.width / 2, r.y + r.height / 2}; }

// Renders `manifest` (participants filled in by the caller) from `dir`, and decodes the
// single chunk; `on_picture` sees each output picture with its index (index * 125 ms).
DecodedChunk render_call(const std::filesystem::path& dir, const std::string& name, nlohmann::json manifest,
                         const std::function<void(int64_t, const AVFrame&)>& on_picture) {
  manifest["callId"] = "call-" + name;
  manifest["recordingStartTime"] = "2026-11-27T10:00:00Z";
  const auto manifest_path = dir / (name + ".json");
  std::ofstream(manifest_path) << manifest.dump(2);
  const auto out = dir / ("out-" + name);
  const CommandResult r =
      run_command({CALLREC_BINARY, "render", manifest_path.string(), "--out", out.string(), "--quiet"});
  if (r.exit_code != 0) throw std::runtime_error("callrec render " + name + " failed: " + r.err);
  const nlohmann::json rec = read_json(out / "recording.json");
  const auto& chunks = rec["data"]["recordingStorageInfo"]["recordingChunks"];
  if (chunks.size() != 1) throw std::runtime_error(name + ": expected one chunk");
  return decode_chunk(out / (chunks[0]["documentId"].get<std::string>() + ".mp4"), on_picture);
}

nlohmann::json party(const std::string& id, std::vector<nlohmann::json> media) {
  return {{"participantId", id}, {"media", media}};
}
nlohmann::json media(const std::string& file, int64_t offset_ms, const char* role = nullptr) {
  nlohmann::json m{{"file", file}, {"offsetMs", offset_ms}};
  if (role) m["role"] = role;
  return m;
}

mg::MediaSpec tiny_video(int64_t duration_ms, mg::Rgb colour, int width = 64, int height = 36) {
  return {.duration_ms = duration_ms,
          .video = mg::VideoSpec{.width = width, .height = height, .fps = 5, .colour = colour, .moving_square = false}};
}

class CompositorEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_ERROR);
    dir_ = new std::filesystem::path(fresh_dir("compositor-e2e"));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::filesystem::path* dir_;
};

std::filesystem::path* CompositorEndToEnd::dir_ = nullptr;

TEST_F(CompositorEndToEnd, EveryParticipantsColourIsInItsTileForEveryGridSize) {
  const auto& d = *dir_;
  for (int i = 0; i < 49; ++i) mg::write_media(d / ("p" + std::to_string(i) + ".webm"), tiny_video(2000, palette(i)));
  for (int n : {1, 2, 3, 4, 5, 7, 9, 16, 49}) {
    SCOPED_TRACE("N = " + std::to_string(n));
    nlohmann::json manifest;
    for (int i = 0; i < n; ++i)
      manifest["participants"].push_back(
          party("8:acs:p" + std::to_string(i), {media("p" + std::to_string(i) + ".webm", 0)}));
    const std::vector<Rect> tiles = compositor::tile_layout(n, kCanvas);
    ASSERT_EQ(static_cast<int>(tiles.size()), n);
    std::vector<Yuv> seen;
    render_call(d, "grid" + std::to_string(n), manifest, [&](int64_t index, const AVFrame& f) {
      if (index != 8) return;  // 1 s into the 2 s call
      for (const Rect& t : tiles) seen.push_back(pixel_at(f, centre(t).first, centre(t).second));
    });
    ASSERT_EQ(static_cast<int>(seen.size()), n);
    for (int i = 0; i < n; ++i) {
      const Yuv want = expected_yuv(palette(i));
      // The colour must be this participant's, and nearer to it than to anyone else's.
      int nearest = 0;
      for (int j = 1; j < n; ++j)
        if (distance(seen[i], expected_yuv(palette(j))) < distance(seen[i], expected_yuv(palette(nearest)))) nearest = j;
      EXPECT_LE(distance(seen[i], want), 12) << "tile " << i << " shows " << show(seen[i]) << ", want " << show(want);
      EXPECT_EQ(nearest, i) << "tile " << i << " looks like participant " << nearest;
    }
  }
}

TEST_F(CompositorEndToEnd, PortraitPictureKeepsItsAspectRatio) {
  const auto& d = *dir_;
  const mg::Rgb yellow{230, 220, 40};
  mg::write_media(d / "portrait.webm", tiny_video(2000, yellow, 36, 64));
  nlohmann::json manifest;
  manifest["participants"].push_back(party("8:acs:phone", {media("portrait.webm", 0)}));
  int left = -1, right = -1, top = -1, bottom = -1;
  render_call(d, "portrait", manifest, [&](int64_t index, const AVFrame& f) {
    if (index != 8) return;
    // Painted = luma above the midpoint between background (37) and the picture.
    const int threshold = (37 + expected_yuv(yellow).y) / 2;
    auto painted = [&](int x, int y) { return f.data[0][y * f.linesize[0] + x] > threshold; };
    for (int x = 0; x < f.width; ++x)
      if (painted(x, f.height / 2)) {
        if (left < 0) left = x;
        right = x;
      }
    for (int y = 0; y < f.height; ++y)
      if (painted(f.width / 2, y)) {
        if (top < 0) top = y;
        bottom = y;
      }
  });
  ASSERT_GE(left, 0);
  ASSERT_GE(top, 0);
  const double width = right - left + 1, height = bottom - top + 1;
  std::cout << "[ measured ] portrait 36x64 painted " << width << "x" << height << " at x=" << left
            << " (aspect " << width / height << ", want " << 36.0 / 64 << ")\n";
  EXPECT_NEAR(width / height, 36.0 / 64, 0.01) << "a 9:16 picture painted " << width << "x" << height;
  EXPECT_NEAR(height, 1080, 2) << "fitted to the full canvas height";
  EXPECT_NEAR(left + width / 2, 960, 2) << "centred";
}

TEST_F(CompositorEndToEnd, StalledVideoShowsThePlaceholderThenRecovers) {
  const auto& d = *dir_;
  const mg::Rgb red{200, 40, 40};
  mg::MediaSpec spec = tiny_video(7000, red);
  spec.video->gaps = {{1000, 6000}};  // no pictures for 5 s: more than twice the 2 s stall timeout
  mg::write_media(d / "stall.webm", spec);
  nlohmann::json manifest;
  manifest["participants"].push_back(party("8:acs:staller", {media("stall.webm", 0)}));
  const Yuv placeholder{compositor::placeholder_colour("8:acs:staller").y, compositor::placeholder_colour("8:acs:staller").u,
                        compositor::placeholder_colour("8:acs:staller").v};
  ASSERT_GT(distance(placeholder, expected_yuv(red)), 30) << "the test needs a placeholder unlike the picture";
  std::map<int64_t, Yuv> seen;
  render_call(d, "stall", manifest, [&](int64_t index, const AVFrame& f) {
    // Off centre, clear of the initials drawn in the middle of the placeholder.
    if (index == 4 || index == 28 || index == 52) seen[index] = pixel_at(f, 1920 / 8, 1080 / 8);
  });
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_LE(distance(seen[4], expected_yuv(red)), 12) << "0.5 s: live picture " << show(seen[4]);
  EXPECT_LE(distance(seen[28], placeholder), 12)
      << "3.5 s, 2.5 s from any picture: placeholder " << show(placeholder) << ", saw " << show(seen[28]);
  EXPECT_LE(distance(seen[52], expected_yuv(red)), 12) << "6.5 s: picture back " << show(seen[52]);
}

TEST_F(CompositorEndToEnd, JoinLeaveAndRejoinReflowTheGrid) {
  const auto& d = *dir_;
  const mg::Rgb red{200, 40, 40}, green{40, 170, 60}, blue{40, 60, 210}, yellow{230, 220, 40};
  mg::write_media(d / "a.webm", tiny_video(6000, red));
  mg::write_media(d / "b.webm", tiny_video(2000, green));
  mg::write_media(d / "c1.webm", tiny_video(1500, blue));
  mg::write_media(d / "c2.webm", tiny_video(1500, blue));
  mg::write_media(d / "d.webm", tiny_video(6000, yellow));
  nlohmann::json manifest;
  manifest["participants"] = {party("8:acs:a", {media("a.webm", 0)}), party("8:acs:b", {media("b.webm", 2000)}),
                              party("8:acs:c", {media("c1.webm", 0), media("c2.webm", 4500)}),
                              party("8:acs:d", {media("d.webm", 0)})};
  // Expected tiles, in grid order, at output frames (index * 125 ms).
  const std::map<int64_t, std::vector<mg::Rgb>> expected{
      {8, {red, blue, yellow}},    // 1.0 s: a, c, d (b not yet joined)
      {24, {red, yellow, green}},  // 3.0 s: c left at 1.5 s, b joined at 2 s: appended
      {34, {red, yellow}},         // 4.25 s: b left at 4 s
      {44, {red, yellow, blue}},   // 5.5 s: c rejoined at 4.5 s, at the end
  };
  std::map<int64_t, std::vector<Yuv>> seen;
  render_call(d, "reflow", manifest, [&](int64_t index, const AVFrame& f) {
    const auto it = expected.find(index);
    if (it == expected.end()) return;
    for (const Rect& t : compositor::tile_layout(static_cast<int>(it->second.size()), kCanvas))
      seen[index].push_back(pixel_at(f, centre(t).first, centre(t).second));
  });
  for (const auto& [index, colours] : expected) {
    ASSERT_EQ(seen[index].size(), colours.size()) << "frame " << index;
    for (size_t i = 0; i < colours.size(); ++i)
      EXPECT_LE(distance(seen[index][i], expected_yuv(colours[i])), 12)
          << "frame " << index << " (" << index * 125 << " ms) tile " << i << ": " << show(seen[index][i]) << ", want "
          << show(expected_yuv(colours[i]));
  }
}

TEST_F(CompositorEndToEnd, ScreenShareTakesTheMainAreaThenTheGridReturns) {
  const auto& d = *dir_;
  const mg::Rgb red{200, 40, 40}, green{40, 170, 60}, yellow{230, 220, 40};
  mg::write_media(d / "cam-a.webm", tiny_video(6000, red));
  mg::write_media(d / "cam-b.webm", tiny_video(6000, green));
  mg::write_media(d / "screen-b.webm", tiny_video(2000, yellow, 160, 120));  // 4:3 share
  nlohmann::json manifest;
  manifest["participants"] = {party("8:acs:a", {media("cam-a.webm", 0)}),
                              party("8:acs:b", {media("cam-b.webm", 0), media("screen-b.webm", 2000, "screen")})};
  const auto grid = compositor::tile_layout(2, kCanvas);
  const auto share = compositor::screen_share_layout(2, kCanvas);
  const Rect shared = compositor::fit_inside({160, 120}, share.main);
  std::map<int64_t, std::vector<Yuv>> seen;
  render_call(d, "share", manifest, [&](int64_t index, const AVFrame& f) {
    auto at = [&](const Rect& r) { return pixel_at(f, centre(r).first, centre(r).second); };
    if (index == 8 || index == 40) seen[index] = {at(grid[0]), at(grid[1])};
    if (index == 24) {
      seen[index] = {at(shared), at(share.strip[0]), at(share.strip[1]),
                     // Left of the 4:3 share inside the wider main area: background bars.
                     pixel_at(f, (share.main.x + shared.x) / 2, centre(shared).second)};
    }
  });
  ASSERT_EQ(seen.size(), 3u);
  for (int64_t i : {8, 40}) {
    EXPECT_LE(distance(seen[i][0], expected_yuv(red)), 12) << "grid at frame " << i << ": " << show(seen[i][0]);
    EXPECT_LE(distance(seen[i][1], expected_yuv(green)), 12) << "grid at frame " << i << ": " << show(seen[i][1]);
  }
  EXPECT_LE(distance(seen[24][0], expected_yuv(yellow)), 12) << "share in the main area: " << show(seen[24][0]);
  EXPECT_LE(distance(seen[24][1], expected_yuv(red)), 12) << "strip tile 0: " << show(seen[24][1]);
  EXPECT_LE(distance(seen[24][2], expected_yuv(green)), 12) << "strip tile 1: " << show(seen[24][2]);
  if (shared.x > share.main.x + 8) {
    EXPECT_LE(distance(seen[24][3], Yuv{37, 128, 128}), 12) << "share fitted, not stretched: " << show(seen[24][3]);
  }
}

TEST_F(CompositorEndToEnd, FlashAndBeepStayInSyncWithinTheContractLimits) {
  const auto& d = *dir_;
  // Markers every 530 ms (so they fall at every phase of the 30 fps input and the 8 fps
  // output): a one-frame white flash and a 60 ms 1 kHz beep at the same file time.
  constexpr int64_t kOffsetMs = 700;  // a late joiner
  std::vector<int64_t> markers_ms;
  std::vector<mg::ToneSegment> beeps;
  for (int64_t t = 300; t + 100 < 10000; t += 530) {
    markers_ms.push_back(t);
    beeps.push_back({t, t + 60, 1000, 0.5});
  }
  mg::write_media(d / "sync.webm",
                  {.duration_ms = 10000,
                   .video = mg::VideoSpec{.width = 64, .height = 36, .fps = 30, .colour = {40, 40, 120},
                                          .moving_square = false, .flash_at_ms = markers_ms},
                   .audio = mg::AudioSpec{.sample_rate_hz = 48000, .tones = beeps}});
  nlohmann::json manifest;
  manifest["participants"].push_back(party("8:acs:sync", {media("sync.webm", kOffsetMs)}));
  std::vector<int64_t> flash_frames;
  const DecodedChunk c = render_call(d, "sync", manifest, [&](int64_t index, const AVFrame& f) {
    if (pixel_at(f, 960, 540).y > 180) flash_frames.push_back(index);
  });
  const std::span<const float> audio(c.audio);
  ASSERT_GE(flash_frames.size(), 3u) << "flashes seen in the output";

  std::vector<double> offsets_ms;  // audio onset - flash picture time; positive: audio lags
  for (int64_t k : flash_frames) {
    const double video_ms = static_cast<double>(k) * 125;
    const std::optional<double> audio_ms = beep_onset_ms(audio, video_ms, 300);
    ASSERT_TRUE(audio_ms) << "no beep near the flash at " << video_ms << " ms";
    offsets_ms.push_back(*audio_ms - video_ms);
  }
  const double mean = std::accumulate(offsets_ms.begin(), offsets_ms.end(), 0.0) / offsets_ms.size();
  std::cout << "[ measured ] " << offsets_ms.size() << " of " << markers_ms.size()
            << " flashes shown; mean audio-minus-video offset " << mean << " ms; each:";
  for (double o : offsets_ms) std::cout << " " << o;
  std::cout << "\n";
  EXPECT_GE(mean, -45.0) << "audio leads video by more than 45 ms (docs/contract.md, sync)";
  EXPECT_LE(mean, 125.0) << "audio lags video by more than 125 ms (docs/contract.md, sync)";
  // Nearest-frame sampling: a flash frame is shown at an output instant within half an
  // input frame (16.7 ms) of its own start, and its beep starts within the frame
  // (0..33 ms after that start), so each offset lies in [-16.7, +50] ms; 5 ms more for
  // the onset measurement through AAC.
  for (double o : offsets_ms) {
    EXPECT_GE(o, -16.7 - 5) << "one marker's offset";
    EXPECT_LE(o, 50.0 + 5) << "one marker's offset";
  }
}

}  // namespace
}  // namespace callrec::testing
