// Pauses end to end, through the callrec binary under a small chunk limit: a pause at
// the start, one exactly at a chunk boundary, one inside a chunk and one that lasts
// until stop. Paused media is absent (tones that play only while paused are not
// heard; durations add up without the pauses), and every pause is listed in the chunk
// where it happened with its wall-clock start and duration.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <span>

#include "callrec/core/wall_clock.h"
#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace mg = mediagen;
namespace fs = std::filesystem;

constexpr uint64_t kSmallLimit = 250'000;
constexpr int64_t kStartUs = 1'795'860'000'000'000;  // 2026-11-28T10:00:00Z

struct Pause {
  int64_t at_ms;  // call time
  int64_t duration_ms;
  double tone_hz;  // plays only while paused
};

std::string manifest(const std::vector<Pause>& pauses, int64_t stop_ms) {
  std::string timeline = R"({"atMs": 0, "action": "start"})";
  for (const Pause& p : pauses) {
    timeline += R"(, {"atMs": )" + std::to_string(p.at_ms) + R"(, "action": "pause"})";
    if (p.at_ms + p.duration_ms < stop_ms)
      timeline += R"(, {"atMs": )" + std::to_string(p.at_ms + p.duration_ms) + R"(, "action": "resume"})";
  }
  timeline += R"(, {"atMs": )" + std::to_string(stop_ms) + R"(, "action": "stop"})";
  return R"({"callId": "call-pauses", "recordingStartTime": ")" + format_iso8601(WallClock{kStartUs}) +
         R"(", "participants": [{"participantId": "8:acs:ada", "media": [{"file": "ada.webm", "offsetMs": 0}]}],
           "timeline": [)" + timeline + "]}";
}

TEST(PauseTest, PausedMediaIsAbsentAndEachPauseIsListedInItsChunk) {
  av_log_set_level(AV_LOG_ERROR);
  const fs::path dir = fresh_dir("pauses");
  constexpr int64_t kCallMs = 10'000;
  std::vector<Pause> pauses = {{0, 1000, 1200}, {0, 750, 1500}, {6500, 500, 1800}, {9000, 1000, 2100}};
  std::vector<mg::ToneSegment> tones = {{0, kCallMs, 440, 0.3}};
  // Noise at 1 Mbit/s fills chunks (a switch every ~1-2 s of media).
  auto write_media = [&] {
    mg::write_media(dir / "ada.webm",
                    {.duration_ms = kCallMs,
                     .video = mg::VideoSpec{.width = 320, .height = 180, .fps = 15, .noise_amplitude = 40},
                     .audio = mg::AudioSpec{.tones = tones}});
  };
  auto render = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / (name + ".json")) << text;
    const CommandResult r = run_command({CALLREC_BINARY, "render", (dir / (name + ".json")).string(), "--out",
                                         (dir / name).string(), "--quiet", "--max-chunk-bytes",
                                         std::to_string(kSmallLimit), "--video-bitrate", "1000000"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_json(dir / name / "recording.json");
  };

  // Where does chunk 0 end? What comes before a chunk's end decides it, so a render of
  // the first seconds finds it; the boundary pause goes exactly there.
  for (const Pause& p : pauses) tones.push_back({p.at_ms, p.at_ms + p.duration_ms, p.tone_hz, 0.3});
  write_media();
  const nlohmann::json probe = render("probe", manifest({pauses[0]}, 4000));
  const std::string probe_chunk0 = probe["data"]["recordingStorageInfo"]["recordingChunks"][0]["documentId"];
  const int64_t chunk0_frames = read_json(dir / "probe" / (probe_chunk0 + ".json"))["videoFrames"];
  ASSERT_LT(chunk0_frames * 125, 4000) << "the probe must hold a chunk switch";
  pauses[1].at_ms = 1000 + chunk0_frames * 125;
  ASSERT_LT(pauses[1].at_ms + pauses[1].duration_ms, pauses[2].at_ms);
  tones.resize(1);
  for (const Pause& p : pauses) tones.push_back({p.at_ms, p.at_ms + p.duration_ms, p.tone_hz, 0.3});
  write_media();

  const nlohmann::json rec = render("out", manifest(pauses, kCallMs));
  int64_t paused_ms = 0;
  for (const Pause& p : pauses) paused_ms += p.duration_ms;
  EXPECT_EQ(rec["data"]["recordingDurationMs"], kCallMs - paused_ms) << "paused time is excluded";
  EXPECT_EQ(rec["data"]["recordingStartTime"], format_iso8601(WallClock{kStartUs}));

  // Output position (ms) of each pause: call time minus the pauses before it.
  std::vector<int64_t> pause_output_ms;
  int64_t before = 0;
  for (const Pause& p : pauses) {
    pause_output_ms.push_back(p.at_ms - before);
    before += p.duration_ms;
  }

  const auto& chunks = rec["data"]["recordingStorageInfo"]["recordingChunks"];
  ASSERT_GE(chunks.size(), 3u);
  std::vector<float> audio;
  int64_t output_ms = 0;
  size_t listed = 0;
  std::optional<int64_t> expected_start_us = kStartUs;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const std::string id = chunks[i]["documentId"];
    SCOPED_TRACE("chunk " + std::to_string(i));
    const nlohmann::json meta = read_json(dir / "out" / (id + ".json"));
    const DecodedChunk c = decode_chunk(dir / "out" / (id + ".mp4"));
    // What a player honouring the edit list plays (libavformat leaves the end of the
    // last AAC frame in).
    const int64_t samples = meta["audioSamples"].get<int64_t>();
    ASSERT_LE(samples, static_cast<int64_t>(c.audio.size()));
    audio.insert(audio.end(), c.audio.begin(), c.audio.begin() + samples);
    const int64_t chunk_ms = c.info.video_frames * 125;
    EXPECT_EQ(meta["chunkDuration"], chunk_ms);
    if (i == 0) {
      // Everything before the boundary is as in the probe; only the picture after the
      // pause, which the encoder tried first, differs: it may have fitted.
      EXPECT_GE(c.info.video_frames, chunk0_frames);
      EXPECT_LE(c.info.video_frames, chunk0_frames + 1);
      std::printf("boundary pause at output %lld ms, chunk 0 ends at %lld ms\n",
                  static_cast<long long>(chunk0_frames * 125), static_cast<long long>(chunk_ms));
    }
    const bool last = i + 1 == chunks.size();

    // The pauses that happened in this chunk, in order, with their wall-clock start.
    std::vector<std::pair<std::string, int64_t>> expected;
    for (size_t k = 0; k < pauses.size(); ++k) {
      const int64_t at = pause_output_ms[k];
      if ((at >= output_ms && at < output_ms + chunk_ms) || (last && at == output_ms + chunk_ms))
        expected.emplace_back(format_iso8601(WallClock{kStartUs + pauses[k].at_ms * 1000}), pauses[k].duration_ms);
    }
    std::vector<std::pair<std::string, int64_t>> actual;
    for (const auto& p : meta["pauseResumeIntervals"])
      actual.emplace_back(p["startTime"].get<std::string>(), p["duration"].get<int64_t>());
    EXPECT_EQ(actual, expected);
    listed += actual.size();

    // chunkStartTime(n+1) = chunkStartTime(n) + chunkDuration(n) + pauses listed in n:
    // a chunk starts before the pauses it lists, so a pause at the start of a chunk
    // (of the recording, or at a boundary) begins at the chunk's start time.
    const int64_t start_us = parse_iso8601(meta["chunkStartTime"].get<std::string>())->unix_us;
    if (expected_start_us) {
      EXPECT_EQ(format_iso8601(WallClock{start_us}), format_iso8601(WallClock{*expected_start_us}))
          << "chunks do not chain";
    }
    int64_t listed_ms = 0;
    for (const auto& p : actual) listed_ms += p.second;
    expected_start_us = start_us + (chunk_ms + listed_ms) * 1000;
    EXPECT_GT(tone_amplitude(c.audio, 440), 0.1) << "the voice is recorded";
    output_ms += chunk_ms;
  }
  EXPECT_EQ(listed, pauses.size()) << "every pause listed once";
  EXPECT_EQ(output_ms, kCallMs - paused_ms);
  ASSERT_EQ(static_cast<int64_t>(audio.size()), (kCallMs - paused_ms) * 16);
  for (size_t k = 0; k < pauses.size(); ++k) {
    // Half a second either side of where the pause was cut out.
    const int64_t at = pause_output_ms[k] * 16;
    const int64_t from = std::max<int64_t>(0, at - 8000), to = std::min<int64_t>(audio.size(), at + 8000);
    const std::span<const float> around(audio.data() + from, static_cast<size_t>(to - from));
    EXPECT_LT(tone_amplitude(around, pauses[k].tone_hz), 0.005) << pauses[k].tone_hz << " Hz played only while paused";
    EXPECT_GT(tone_amplitude(around, 440), 0.1) << "voice around the pause at " << pauses[k].at_ms;
  }
  EXPECT_GT(tone_amplitude(audio, 440), 0.1);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace callrec::testing
