// End to end: a generated three-party call with a late joiner, an audio-only and a
// portrait participant and a pause, rendered by the callrec binary and decoded back.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "callrec/core/wall_clock.h"

#include "callrec/compositor/tile_layout.h"
#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavutil/log.h>
}

extern "C" {
#include <libavutil/frame.h>
}

namespace callrec::testing {
namespace {

namespace mg = mediagen;

constexpr double kPauseToneHz = 1200;

class RenderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_ERROR);
    dir_ = new std::filesystem::path(fresh_dir("render"));
    const auto& d = *dir_;
    // ada: red landscape camera, 440 Hz voice; a 1200 Hz tone plays only while paused.
    mg::write_media(d / "ada.webm",
                    {.duration_ms = 8000,
                     .video = mg::VideoSpec{.width = 320, .height = 180, .fps = 15, .colour = {200, 40, 40}},
                     .audio = mg::AudioSpec{.sample_rate_hz = 48000, .channels = 2,
                                            .tones = {{0, 8000, 440, 0.3}, {4000, 5000, kPauseToneHz, 0.3}}}});
    // bob: green portrait phone camera joining at 3 s, 880 Hz voice.
    mg::write_media(d / "bob.mp4",
                    {.duration_ms = 5000,
                     .video = mg::VideoSpec{.width = 180, .height = 320, .fps = 24, .colour = {40, 160, 60},
                                            .encoder = "libx264"},
                     .audio = mg::AudioSpec{.sample_rate_hz = 44100, .channels = 1, .tones = {{0, 5000, 880, 0.3}},
                                            .encoder = "aac"}});
    // carol: audio only, 660 Hz.
    mg::write_media(d / "carol.ogg",
                    {.duration_ms = 8000, .audio = mg::AudioSpec{.tones = {{0, 8000, 660, 0.3}}}});
    std::ofstream(d / "call.json") << R"({
      "callId": "call-e2e", "resourceId": "res-e2e", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [
        {"participantId": "8:acs:ada", "displayName": "Ada Lovelace", "media": [{"file": "ada.webm", "offsetMs": 0}]},
        {"participantId": "8:acs:bob", "displayName": "Bob", "media": [{"file": "bob.mp4", "offsetMs": 3000}]},
        {"participantId": "8:acs:carol", "displayName": "Carol Shaw", "media": [{"file": "carol.ogg", "offsetMs": 0}]}
      ],
      "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 4000, "action": "pause"},
                   {"atMs": 5000, "action": "resume"}, {"atMs": 8000, "action": "stop"}]
    })";
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static CommandResult render(const std::filesystem::path& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{CALLREC_BINARY, "render", (*dir_ / "call.json").string(), "--out", out.string(),
                                  "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv);
  }

  static std::vector<std::filesystem::path> chunk_files(const nlohmann::json& rec, const std::filesystem::path& out,
                                                        const char* ext) {
    std::vector<std::filesystem::path> files;
    for (const auto& c : rec["data"]["recordingStorageInfo"]["recordingChunks"])
      files.push_back(out / (c["documentId"].get<std::string>() + ext));
    return files;
  }

  static std::filesystem::path* dir_;
};

std::filesystem::path* RenderTest::dir_ = nullptr;

TEST_F(RenderTest, OneChunkHasTheContractFormatDurationSoundAndPictures) {
  const auto out = *dir_ / "out-single";
  const CommandResult r = render(out);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const nlohmann::json rec = read_json(out / "recording.json");
  const auto mp4s = chunk_files(rec, out, ".mp4");
  ASSERT_EQ(mp4s.size(), 1u);
  EXPECT_NE(r.out.find(mp4s[0].string()), std::string::npos) << "prints where the chunks are";

  std::optional<Yuv> ada_early, carol_early, ada_late, bob_late, carol_late, bob_beside, background;
  const auto two = compositor::tile_layout(2, {1920, 1080});
  const auto three = compositor::tile_layout(3, {1920, 1080});
  auto centre = [](const compositor::Rect& r) { return std::pair{r.x + r.width / 2, r.y + r.height / 2}; };
  const DecodedChunk chunk = decode_chunk(mp4s[0], [&](int64_t i, const AVFrame& f) {
    if (i == 8) {  // output 1 s = call 1 s: ada and carol
      ada_early = pixel_at(f, centre(two[0]).first, centre(two[0]).second);
      carol_early = pixel_at(f, centre(two[1]).first, centre(two[1]).second);
    }
    if (i == 36) {  // output 4.5 s = call 5.5 s (after the pause): tiles in join order
      ada_late = pixel_at(f, centre(three[0]).first, centre(three[0]).second);
      carol_late = pixel_at(f, centre(three[1]).first, centre(three[1]).second);
      bob_late = pixel_at(f, centre(three[2]).first, centre(three[2]).second);
      // A 9:16 picture fitted into a 16:9 tile is a narrow column: 35% of the tile
      // width away from its centre there is only background.
      bob_beside = pixel_at(f, centre(three[2]).first + three[2].width * 35 / 100, centre(three[2]).second);
      // Left of the centred last row (three tiles: 2x2 with one below) is background.
      background = pixel_at(f, 2, 1076, 1);
    }
  });
  const StreamInfo& s = chunk.info;
  EXPECT_EQ(s.video_codec, "h264");
  EXPECT_EQ(s.width, 1920);
  EXPECT_EQ(s.height, 1080);
  EXPECT_EQ(s.pix_fmt, "yuv420p");
  EXPECT_EQ(s.frame_rate_num, 8 * s.frame_rate_den);
  EXPECT_EQ(s.audio_codec, "aac");
  EXPECT_EQ(s.audio_profile, "LC");
  EXPECT_EQ(s.sample_rate, 16000);
  EXPECT_EQ(s.channels, 1);
  EXPECT_TRUE(s.first_video_packet_key);
  EXPECT_EQ(s.first_video_pts, 0);
  const auto moov = std::find(s.top_level_boxes.begin(), s.top_level_boxes.end(), "moov");
  const auto mdat = std::find(s.top_level_boxes.begin(), s.top_level_boxes.end(), "mdat");
  ASSERT_NE(moov, s.top_level_boxes.end());
  ASSERT_NE(mdat, s.top_level_boxes.end());
  EXPECT_LT(moov, mdat) << "moov before mdat (faststart)";

  // 8 s of call minus a 1 s pause.
  EXPECT_EQ(s.video_frames, 56);
  EXPECT_NEAR(static_cast<double>(chunk.audio.size()), 7 * 16000.0, 1100);
  EXPECT_NEAR(s.duration_s, 7.0, 0.13);

  // Voices present, the tone that only played during the pause absent.
  const std::span<const float> audio(chunk.audio);
  EXPECT_GT(tone_amplitude(audio, 440), 0.1);
  EXPECT_GT(tone_amplitude(audio, 660), 0.1);
  EXPECT_GT(tone_amplitude(audio.subspan(4 * 16000, 16000), 880), 0.1) << "bob, joined at 3 s, heard after the pause";
  EXPECT_LT(tone_amplitude(audio.subspan(0, 2 * 16000), 880), 0.01) << "bob not heard before joining";
  EXPECT_LT(tone_amplitude(audio, kPauseToneHz), 0.005) << "paused audio must be cut";
  for (float x : chunk.audio) ASSERT_LE(std::abs(x), 1.0f);

  // Pictures: red ada, green portrait bob, coloured placeholder for audio-only carol.
  ASSERT_TRUE(ada_early && carol_early && ada_late && bob_late && carol_late && bob_beside && background);
  EXPECT_GT(ada_early->v, 170);
  EXPECT_NEAR(ada_early->y, 75, 25);
  EXPECT_GT(ada_late->v, 170);
  EXPECT_LT(bob_late->u, 110);
  EXPECT_LT(bob_late->v, 110);
  EXPECT_NEAR(bob_beside->y, background->y, 12) << "portrait picture stretched into the tile";
  for (const Yuv& placeholder : {*carol_early, *carol_late}) {
    EXPECT_LT(placeholder.v, 170) << "carol's tile shows no red";
    EXPECT_GT(std::abs(placeholder.y - background->y) + std::abs(placeholder.u - background->u) +
                  std::abs(placeholder.v - background->v),
              15)
        << "carol's placeholder is coloured, not background";
  }

  // Metadata.
  EXPECT_EQ(rec["eventType"], "Microsoft.Communication.RecordingFileStatusUpdated");
  EXPECT_EQ(rec["subject"], "/recording/call/call-e2e");
  EXPECT_EQ(rec["topic"], "res-e2e");
  EXPECT_EQ(rec["data"]["recordingDurationMs"], 7000);
  EXPECT_EQ(rec["data"]["recordingStartTime"], "2026-11-27T10:00:00.000Z");
  EXPECT_EQ(rec["data"]["sessionEndReason"], "RecordingStopped");
  EXPECT_EQ(rec["data"]["recordingStorageInfo"]["recordingChunks"][0]["endReason"], "SessionEnded");
  EXPECT_TRUE(rec["id"].is_string() && rec["eventTime"].is_string());
  EXPECT_EQ(rec["dataVersion"], "1.0");
  EXPECT_EQ(rec["metadataVersion"], "1");

  const nlohmann::json meta = read_json(chunk_files(rec, out, ".json")[0]);
  EXPECT_EQ(meta["resourceId"], "res-e2e");
  EXPECT_EQ(meta["callId"], "call-e2e");
  EXPECT_EQ(meta["chunkDocumentId"], rec["data"]["recordingStorageInfo"]["recordingChunks"][0]["documentId"]);
  EXPECT_EQ(meta["chunkIndex"], 0);
  EXPECT_EQ(meta["chunkStartTime"], "2026-11-27T10:00:00.000Z");
  ASSERT_TRUE(meta["chunkDuration"].is_number());
  EXPECT_NEAR(meta["chunkDuration"].get<double>(), 7000, 125);
  ASSERT_EQ(meta["pauseResumeIntervals"].size(), 1u);
  EXPECT_EQ(meta["pauseResumeIntervals"][0]["startTime"], "2026-11-27T10:00:04.000Z");
  EXPECT_EQ(meta["pauseResumeIntervals"][0]["duration"], 1000);
  const auto& info = meta["recordingInfo"];
  EXPECT_EQ(info["contentType"], "mixed");
  EXPECT_EQ(info["channelType"], "audioVideo");
  EXPECT_EQ(info["format"], "mp4");
  EXPECT_EQ(info["audioConfiguration"]["sampleRate"], "16000");
  EXPECT_TRUE(info["audioConfiguration"]["bitRate"].is_number_integer());
  EXPECT_GT(info["audioConfiguration"]["bitRate"].get<int>(), 0);
  EXPECT_EQ(info["audioConfiguration"]["channels"], 1);
  EXPECT_EQ(info["videoConfiguration"]["longerSideLength"], 1920);
  EXPECT_EQ(info["videoConfiguration"]["shorterSideLength"], 1080);
  EXPECT_EQ(info["videoConfiguration"]["framerate"], 8);
  EXPECT_TRUE(info["videoConfiguration"]["bitRate"].is_number_integer());
  std::set<std::string> ids;
  for (const auto& p : meta["participants"]) ids.insert(p["participantId"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"8:acs:ada", "8:acs:bob", "8:acs:carol"}));
}

TEST_F(RenderTest, SmallLimitCutsBackToBackChunksThatNeverExceedIt) {
  // Sensor-like noise makes the encoder spend its whole bit rate, so chunks fill.
  mg::write_media(*dir_ / "noisy.webm",
                  {.duration_ms = 8000,
                   .video = mg::VideoSpec{.width = 320, .height = 180, .fps = 15, .noise_amplitude = 40}});
  std::string manifest = read_json(*dir_ / "call.json").dump();
  manifest.replace(manifest.find("ada.webm"), 8, "noisy.webm");
  std::ofstream(*dir_ / "noisy.json") << manifest;
  const auto out = *dir_ / "out-chunked";
  const uint64_t limit = 300'000;
  const CommandResult r = run_command({CALLREC_BINARY, "render", (*dir_ / "noisy.json").string(), "--out",
                                       out.string(), "--quiet", "--max-chunk-bytes", std::to_string(limit)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json rec = read_json(out / "recording.json");
  const auto& chunks = rec["data"]["recordingStorageInfo"]["recordingChunks"];
  ASSERT_GE(chunks.size(), 2u);
  const auto mp4s = chunk_files(rec, out, ".mp4");
  const auto jsons = chunk_files(rec, out, ".json");
  int64_t frames = 0;
  double next_start_ms = -1;
  std::vector<std::string> names;
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i]["index"], i);
    EXPECT_EQ(chunks[i]["endReason"], i + 1 == chunks.size() ? "SessionEnded" : "ChunkMaximumSizeExceeded");
    EXPECT_LE(std::filesystem::file_size(mp4s[i]), limit) << mp4s[i];
    const DecodedChunk c = decode_chunk(mp4s[i]);
    EXPECT_TRUE(c.info.first_video_packet_key) << "chunk " << i;
    EXPECT_EQ(c.info.first_video_pts, 0) << "chunk " << i;
    frames += c.info.video_frames;
    const nlohmann::json meta = read_json(jsons[i]);
    EXPECT_EQ(meta["chunkIndex"], i);
    const double start_ms =
        static_cast<double>(parse_iso8601(meta["chunkStartTime"].get<std::string>())->unix_us) / 1000;
    if (next_start_ms >= 0) {
      EXPECT_NEAR(start_ms, next_start_ms, 125) << "chunk " << i << " is not back to back";
    }
    double paused_ms = 0;
    for (const auto& p : meta["pauseResumeIntervals"]) paused_ms += p["duration"].get<double>();
    next_start_ms = start_ms + meta["chunkDuration"].get<double>() + paused_ms;
    names.push_back(chunks[i]["documentId"]);
  }
  EXPECT_EQ(frames, 56) << "frames of all chunks add up";
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end())) << "sorting by name lists chunks in order";
}

TEST_F(RenderTest, StatsChargeEveryStageAndAddUp) {
  const auto out = *dir_ / "out-stats";
  const CommandResult r = render(out, {"--stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  double share_sum = 0;
  for (const char* stage : {"demux+decode", "mix", "composite", "encode+mux", "engine"}) {
    const auto at = r.err.find(std::string("\n") + stage + " ");
    ASSERT_NE(at, std::string::npos) << stage << " missing in:\n" << r.err;
    double cpu_s = 0, share = 0;
    ASSERT_EQ(std::sscanf(r.err.c_str() + at + 1 + std::strlen(stage), "%lf %lf", &cpu_s, &share), 2) << stage;
    EXPECT_GE(cpu_s, 0) << stage;
    share_sum += share;
    if (std::string(stage) == "encode+mux") {
      EXPECT_GT(share, 20) << "1080p encoding is the largest cost";
    }
  }
  EXPECT_NEAR(share_sum, 100, 0.6);
  EXPECT_NE(r.err.find("engine's own share"), std::string::npos);
}

// A camera that reconnects leaves one file per connection, back to back, each starting
// a little before the previous one's last picture is over: the tile shows the camera the
// whole time (no placeholder at the joins), and every file is read.
TEST_F(RenderTest, BackToBackFilesOfOneCameraShowItWithoutAGap) {
  const auto d = *dir_ / "reconnects";
  std::filesystem::create_directories(d);
  std::string media;
  for (int k = 0; k < 4; ++k) {
    mg::write_media(d / ("part" + std::to_string(k) + ".webm"),
                    {.duration_ms = 2000,
                     .video = mg::VideoSpec{.width = 320, .height = 180, .fps = 30, .colour = {200, 40, 40}},
                     .audio = mg::AudioSpec{.tones = {{0, 2000, 440, 0.3}}}});
    media += std::string(k ? ", " : "") + R"({"file": "part)" + std::to_string(k) + R"(.webm", "offsetMs": )" +
             std::to_string(k * 1990) + "}";
  }
  std::ofstream(d / "call.json") << R"({"callId": "reconnects", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [{"participantId": "8:acs:ada", "displayName": "Ada", "media": [)" + media + "]}]}";
  const auto out = d / "out";
  const CommandResult r = run_command({CALLREC_BINARY, "render", (d / "call.json").string(), "--out", out.string(),
                                       "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto mp4s = chunk_files(read_json(out / "recording.json"), out, ".mp4");
  ASSERT_EQ(mp4s.size(), 1u);
  int64_t frames = 0;
  decode_chunk(mp4s[0], [&](int64_t i, const AVFrame& f) {
    ++frames;
    EXPECT_GT(pixel_at(f, 960, 540).v, 170) << "frame " << i << " (" << i * 125 << " ms) does not show the camera";
  });
  EXPECT_GE(frames, 62);  // 3 x 1.99 s + 2 s
}

// Cameras sending VP8 temporal layers (a browser's simulcast): the pictures no output
// instant shows and nothing refers to are not decoded, and the recording is the same,
// picture for picture, as when every one is decoded; across a pause, and with cameras
// whose pictures fall between the output instants differently.
TEST_F(RenderTest, CameraPicturesNeverShownAreNotDecodedAndTheRecordingIsTheSame) {
  const auto d = *dir_ / "layers";
  std::filesystem::create_directories(d);
  for (int k = 0; k < 2; ++k) {
    mg::write_media(d / ("cam" + std::to_string(k) + ".webm"),
                    {.duration_ms = 4000,
                     .video = mg::VideoSpec{.width = 320, .height = 180, .fps = 30,
                                            .colour = k ? mg::Rgb{40, 160, 60} : mg::Rgb{200, 40, 40},
                                            .temporal_layers = 3 - k},
                     .audio = mg::AudioSpec{.tones = {{0, 4000, 440.0 * (k + 1), 0.3}}}});
  }
  std::ofstream(d / "call.json") << R"({"callId": "layers", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [
        {"participantId": "8:acs:ada", "media": [{"file": "cam0.webm", "offsetMs": 0}]},
        {"participantId": "8:acs:bob", "media": [{"file": "cam1.webm", "offsetMs": 130}]}],
      "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 1500, "action": "pause"},
                   {"atMs": 2110, "action": "resume"}, {"atMs": 4000, "action": "stop"}]})";
  // Each decoded picture's planes, hashed.
  const auto pictures = [&](const std::filesystem::path& out, const std::vector<std::string>& extra) {
    std::vector<std::string> argv{CALLREC_BINARY, "render", (d / "call.json").string(), "--out", out.string(),
                                  "--quiet", "--stats"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const CommandResult r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string said = "camera pictures left undecoded (never shown, nothing refers to them): ";
    const auto at = r.err.find(said);
    EXPECT_NE(at, std::string::npos) << r.err;
    const long long undecoded = at == std::string::npos ? -1 : std::atoll(r.err.c_str() + at + said.size());
    std::vector<uint64_t> hashes;
    for (const auto& mp4 : chunk_files(read_json(out / "recording.json"), out, ".mp4")) {
      decode_chunk(mp4, [&](int64_t, const AVFrame& f) {
        uint64_t h = 14695981039346656037ULL;
        for (int plane = 0; plane < 3; ++plane) {
          const int w = plane ? f.width / 2 : f.width, rows = plane ? f.height / 2 : f.height;
          for (int y = 0; y < rows; ++y)
            for (int x = 0; x < w; ++x) h = (h ^ f.data[plane][y * f.linesize[plane] + x]) * 1099511628211ULL;
        }
        hashes.push_back(h);
      });
    }
    return std::pair(undecoded, hashes);
  };
  const auto [skipped, fewer] = pictures(d / "out", {});
  const auto [none, every] = pictures(d / "out-every", {"--decode-every-picture"});
  EXPECT_EQ(none, 0);
  // Of 2 x 4 s at 30 fps (the paused 0.6 s decoded as well: its pictures are not shown
  // either), about a third: the odd pictures of the three-layer camera and every other
  // of the two-layer one, less those nearest an output instant.
  EXPECT_GE(skipped, 60);
  EXPECT_GE(every.size(), 26u);  // 3.4 s at 8 fps
  ASSERT_EQ(fewer.size(), every.size());
  for (size_t i = 0; i < every.size(); ++i) EXPECT_EQ(fewer[i], every[i]) << "picture " << i << " differs";
}

TEST_F(RenderTest, RefusesToOverwriteARecordingWithoutForce) {
  const auto out = *dir_ / "out-twice";
  ASSERT_EQ(render(out).exit_code, 0);
  const CommandResult again = render(out);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already holds a recording"), std::string::npos) << again.err;
  EXPECT_EQ(render(out, {"--force"}).exit_code, 0);
}

}  // namespace
}  // namespace callrec::testing
