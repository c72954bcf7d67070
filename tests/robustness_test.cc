// Hostile and broken input through the callrec binary (docs/limits.md): damaged files
// are survived and reported, refused input gets a one-line error naming the field or
// file, and resources stay bounded.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <regex>

#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;
namespace mg = mediagen;

constexpr int64_t kCallMs = 4000;

struct Render {
  CommandResult result;
  fs::path out;
  nlohmann::json recording;
  std::vector<std::string> warnings;  // stderr lines "callrec: warning: ..."
};

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
}

// One line per string in `lines` that starts with `prefix`.
std::vector<std::string> lines_with(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
    at = end + 1;
  }
  return out;
}

class RobustnessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_ERROR);
    dir_ = new fs::path(fresh_dir("robustness"));
    const fs::path& d = *dir_;
    mg::write_media(d / "ada.webm", {.duration_ms = kCallMs,
                                     .video = mg::VideoSpec{.colour = {200, 40, 40}},
                                     .audio = mg::AudioSpec{.tones = {{0, kCallMs, 440, 0.3}}}});
    mg::write_media(d / "bob.mp4", {.duration_ms = kCallMs,
                                    .video = mg::VideoSpec{.colour = {40, 160, 60}, .encoder = "libx264"},
                                    .audio = mg::AudioSpec{.sample_rate_hz = 44100, .tones = {{0, kCallMs, 880, 0.3}},
                                                           .encoder = "aac"}});
    mg::write_media(d / "carol.ogg", {.duration_ms = kCallMs, .audio = mg::AudioSpec{.tones = {{0, kCallMs, 660, 0.3}}}});
    fs::create_directories(d / "outside");
    mg::write_media(d / "outside" / "secret.ogg",
                    {.duration_ms = 500, .audio = mg::AudioSpec{.tones = {{0, 500, 300, 0.3}}}});
    fs::create_directories(d / "call");
    std::ofstream(d / "call" / "empty.webm");
    std::ofstream(d / "call" / "text.webm") << "this is not a video, only text\n";
    // Playlists and lists disguised as .webm: the demuxer would open the files they name.
    std::ofstream(d / "call" / "playlist.webm") << "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n../outside/secret.ogg\n"
                                                   "#EXT-X-ENDLIST\n";
    std::ofstream(d / "call" / "list.webm") << "ffconcat version 1.0\nfile ../outside/secret.ogg\n";
    fs::copy_file(d / "carol.ogg", d / "call" / "carol.ogg");
    fs::create_symlink(d / "outside" / "secret.ogg", d / "call" / "link.ogg");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  static std::string participant(const std::string& id, const std::string& file) {
    return R"({"participantId": ")" + id + R"(", "media": [{"file": ")" + file + R"(", "offsetMs": 0}]})";
  }
  static std::string manifest(const std::vector<std::string>& participants, const std::string& extra = "") {
    std::string list;
    for (const std::string& p : participants) list += (list.empty() ? "" : ", ") + p;
    return R"({"callId": "robust", "recordingStartTime": "2026-11-27T10:00:00Z", )" + extra + R"("participants": [)" +
           list + "]}";
  }

  // Renders `manifest_text` written as `<folder>/<name>.json`.
  static Render render(const std::string& manifest_text, const std::string& name, const fs::path& folder = *dir_,
                       std::vector<std::string> prefix = {}) {
    const fs::path manifest_path = folder / (name + ".json");
    std::ofstream(manifest_path) << manifest_text;
    Render r;
    r.out = *dir_ / ("out-" + name);
    fs::remove_all(r.out);
    std::vector<std::string> argv = std::move(prefix);
    for (const std::string& a :
         std::vector<std::string>{CALLREC_BINARY, "render", manifest_path.string(), "--out", r.out.string(), "--quiet"})
      argv.push_back(a);
    r.result = run_command(argv);
    if (fs::exists(r.out / "recording.json")) r.recording = read_json(r.out / "recording.json");
    r.warnings = lines_with(r.result.err, "callrec: warning: ");
    return r;
  }

  // The single chunk's decoded audio and its metadata.
  static std::pair<DecodedChunk, nlohmann::json> only_chunk(const Render& r) {
    const auto& chunks = r.recording["data"]["recordingStorageInfo"]["recordingChunks"];
    EXPECT_EQ(chunks.size(), 1u);
    const std::string id = chunks.at(0)["documentId"];
    return {decode_chunk(r.out / (id + ".mp4")), read_json(r.out / (id + ".json"))};
  }

  static void expect_refused(const Render& r, const std::string& expected, const std::string& what) {
    EXPECT_EQ(r.result.exit_code, 1) << what << ": " << r.result.err;
    EXPECT_NE(r.result.err.find(expected), std::string::npos) << what << ": stderr was: " << r.result.err;
    std::string err = r.result.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    EXPECT_EQ(err.find('\n'), std::string::npos) << what << ": not one line: " << r.result.err;
    EXPECT_FALSE(fs::exists(r.out / "recording.json")) << what;
  }

  static fs::path* dir_;
};

fs::path* RobustnessTest::dir_ = nullptr;

const std::vector<std::string> kFiles = {"ada.webm", "bob.mp4", "carol.ogg"};
const std::vector<double> kTonesHz = {440, 880, 660};

std::vector<std::string> three_with(const std::string& damaged_index_file, size_t index) {
  std::vector<std::string> ps;
  for (size_t i = 0; i < kFiles.size(); ++i)
    ps.push_back(R"({"participantId": "p)" + std::to_string(i) + R"(", "media": [{"file": ")" +
                 (i == index ? damaged_index_file : kFiles[i]) + R"(", "offsetMs": 0}]})");
  return ps;
}

// Random bit flips in the media data of each participant's file in turn: the call is
// recorded in full (the others go on), exit 0, and every problem reported on stderr is
// also in the chunk metadata.
TEST_F(RobustnessTest, BitFlipsInEachParticipantsFileAreSurvived) {
  for (size_t i = 0; i < kFiles.size(); ++i) {
    std::vector<uint8_t> bytes = read_bytes(*dir_ / kFiles[i]);
    // Keep the headers (the first quarter) and, for MP4, the index at the end (moov):
    // damage to those makes a file unreadable, which is a refusal tested elsewhere.
    size_t end = bytes.size() * 3 / 4;
    if (kFiles[i] == "bob.mp4") {
      const std::string s(bytes.begin(), bytes.end());
      end = std::min(end, s.rfind("moov") - 8);
    }
    std::mt19937 rng(1234 + static_cast<unsigned>(i));
    std::uniform_int_distribution<size_t> pos(bytes.size() / 4, end);
    for (int n = 0; n < 60; ++n) bytes[pos(rng)] ^= static_cast<uint8_t>(1u << (rng() % 8));
    const std::string damaged = "flipped-" + kFiles[i];
    write_bytes(*dir_ / damaged, bytes);

    const Render r = render(manifest(three_with(damaged, i)), "flips" + std::to_string(i));
    ASSERT_EQ(r.result.exit_code, 0) << kFiles[i] << ": " << r.result.err;
    EXPECT_GE(r.recording["data"]["recordingDurationMs"].get<int64_t>(), kCallMs - 200) << kFiles[i];
    const auto [chunk, meta] = only_chunk(r);
    // The undamaged participants are heard to the end.
    const std::span<const float> last_second(chunk.audio.data() + chunk.audio.size() - 16000, 16000);
    for (size_t j = 0; j < kFiles.size(); ++j) {
      if (j != i) {
        EXPECT_GT(tone_amplitude(last_second, kTonesHz[j]), 0.03) << kFiles[i] << " damaged, " << kFiles[j];
      }
    }
    for (const std::string& w : r.warnings) {
      EXPECT_NE(w.find(damaged), std::string::npos) << "a warning names another file: " << w;
      ASSERT_TRUE(meta.contains("mediaProblems")) << w;
      EXPECT_NE(std::find(meta["mediaProblems"].begin(), meta["mediaProblems"].end(), w), meta["mediaProblems"].end())
          << "not in the chunk metadata: " << w;
    }
  }
}

// A file cut in the middle: what came before the cut is recorded, the rest of the call
// goes on, and the early end is reported, naming the file.
TEST_F(RobustnessTest, TruncatedFileKeepsWhatCameBeforeTheCut) {
  for (size_t i : {size_t{0}, size_t{2}}) {  // ada.webm, carol.ogg
    std::vector<uint8_t> bytes = read_bytes(*dir_ / kFiles[i]);
    bytes.resize(bytes.size() / 2);
    const std::string cut = "cut-" + kFiles[i];
    write_bytes(*dir_ / cut, bytes);
    const Render r = render(manifest(three_with(cut, i)), "cut" + std::to_string(i));
    ASSERT_EQ(r.result.exit_code, 0) << cut << ": " << r.result.err;
    EXPECT_GE(r.recording["data"]["recordingDurationMs"].get<int64_t>(), kCallMs - 200) << cut;
    const auto [chunk, meta] = only_chunk(r);
    const std::span<const float> first(chunk.audio.data() + 4000, 12000);
    const std::span<const float> last(chunk.audio.data() + chunk.audio.size() - 12000, 12000);
    EXPECT_GT(tone_amplitude(first, kTonesHz[i]), 0.03) << cut << ": the part before the cut is missing";
    EXPECT_LT(tone_amplitude(last, kTonesHz[i]), 0.01) << cut << ": media after the cut?";
    ASSERT_FALSE(r.warnings.empty()) << cut << ": the truncation is not reported";
    EXPECT_NE(r.warnings[0].find("\"" + cut + "\""), std::string::npos) << r.warnings[0];
    EXPECT_TRUE(meta.contains("mediaProblems")) << cut;
  }
}

// MP4 keeps its index at the end: cut in half, nothing is decodable, and that is a clear
// error naming the file.
TEST_F(RobustnessTest, UnreadableFileIsAnErrorNamingIt) {
  std::vector<uint8_t> bytes = read_bytes(*dir_ / "bob.mp4");
  bytes.resize(bytes.size() / 2);
  write_bytes(*dir_ / "cut-bob.mp4", bytes);
  expect_refused(render(manifest(three_with("cut-bob.mp4", 1)), "cutmp4"),
                 "participants[1].media[0].file \"cut-bob.mp4\": ", "truncated mp4");
}

// Sources that are not a plain media file inside the manifest's folder are refused,
// naming the field; nothing outside that folder is read.
TEST_F(RobustnessTest, NonFileSourcesAndEscapingPathsAreRefused) {
  const fs::path call = *dir_ / "call";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"../outside/secret.ogg", "contains \"..\""},
      {"sub/../../outside/secret.ogg", "contains \"..\""},
      {(*dir_ / "outside" / "secret.ogg").string(), "is an absolute path"},
      {"http://127.0.0.1:9/a.webm", "is a URL or protocol"},
      {"file:carol.ogg", "is a URL or protocol"},
      {"concat:carol.ogg|carol.ogg", "is a URL or protocol"},
      {"subfile,,start,0,end,1000,,:carol.ogg", "is a URL or protocol"},
      {"calls.m3u8", "is a playlist or list"},
      {"list.ffconcat", "is a playlist or list"},
      {"img%03d.png", "image-sequence pattern"},
      {"link.ogg", "outside the manifest's folder"},
      {"playlist.webm", "format \"hls\" is refused"},
      {"list.webm", "format \"concat\" is refused"},
      {"empty.webm", "\"empty.webm\": not a media file FFmpeg can read (the file is empty)"},
      {"text.webm", "\"text.webm\": not a media file FFmpeg can read"},
  };
  int n = 0;
  for (const auto& [file, expected] : cases) {
    nlohmann::json p = {{"participantId", "x"}, {"media", {{{"file", file}}}}};
    const Render r = render(manifest({participant("ok", "carol.ogg"), p.dump()}), "refuse" + std::to_string(n++), call);
    expect_refused(r, "participants[1].media[0].file", file);
    EXPECT_NE(r.result.err.find(expected), std::string::npos) << file << ": " << r.result.err;
  }
}

// Remuxes ada.webm's packets into a Matroska file whose header claims a huge picture.
void write_with_claimed_size(const fs::path& from, const fs::path& to, int width, int height, bool keep_audio) {
  AVFormatContext* in = nullptr;
  ASSERT_GE(avformat_open_input(&in, from.c_str(), nullptr, nullptr), 0);
  ASSERT_GE(avformat_find_stream_info(in, nullptr), 0);
  AVFormatContext* out = nullptr;
  ASSERT_GE(avformat_alloc_output_context2(&out, nullptr, "matroska", to.c_str()), 0);
  std::vector<int> map(in->nb_streams, -1);
  for (unsigned s = 0; s < in->nb_streams; ++s) {
    const AVCodecParameters* par = in->streams[s]->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_AUDIO && !keep_audio) continue;
    AVStream* os = avformat_new_stream(out, nullptr);
    avcodec_parameters_copy(os->codecpar, par);
    os->codecpar->codec_tag = 0;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
      os->codecpar->width = width;
      os->codecpar->height = height;
    }
    os->time_base = in->streams[s]->time_base;
    map[s] = os->index;
  }
  ASSERT_GE(avio_open(&out->pb, to.c_str(), AVIO_FLAG_WRITE), 0);
  ASSERT_GE(avformat_write_header(out, nullptr), 0);
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(in, pkt) >= 0) {
    if (map[pkt->stream_index] >= 0) {
      const AVRational tb = in->streams[pkt->stream_index]->time_base;
      const bool video = in->streams[pkt->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
      // A VP8 keyframe (frame tag bit 0 clear, start code 9d 01 2a) states its size in
      // bytes 6..9 (14 bits each): make the bitstream claim 16383x16383 too.
      if (video && pkt->size > 10 && (pkt->data[0] & 1) == 0 && pkt->data[3] == 0x9d && pkt->data[4] == 0x01 &&
          pkt->data[5] == 0x2a) {
        av_packet_make_writable(pkt);
        pkt->data[6] = pkt->data[8] = 0xff;
        pkt->data[7] = pkt->data[9] = 0x3f;
      }
      pkt->stream_index = map[pkt->stream_index];
      av_packet_rescale_ts(pkt, tb, out->streams[pkt->stream_index]->time_base);
      av_interleaved_write_frame(out, pkt);
    }
    av_packet_unref(pkt);
  }
  av_write_trailer(out);
  av_packet_free(&pkt);
  avio_closep(&out->pb);
  avformat_free_context(out);
  avformat_close_input(&in);
}

// A header claiming a 100000x100000 picture: the video stream is not trusted with
// memory. With audio beside it the call is recorded (the claim reported); with
// nothing else it is a clear error naming the file.
TEST_F(RobustnessTest, HugeClaimedPictureIsRefused) {
  write_with_claimed_size(*dir_ / "ada.webm", *dir_ / "huge.mkv", 100000, 100000, true);
  write_with_claimed_size(*dir_ / "ada.webm", *dir_ / "huge-video-only.mkv", 100000, 100000, false);
  const Render with_audio = render(manifest(three_with("huge.mkv", 0)), "huge");
  ASSERT_EQ(with_audio.result.exit_code, 0) << with_audio.result.err;
  ASSERT_EQ(with_audio.warnings.size(), 1u) << with_audio.result.err;
  EXPECT_NE(with_audio.warnings[0].find("\"huge.mkv\": video of 100000x100000 exceeds"), std::string::npos)
      << with_audio.warnings[0];
  const auto [chunk, meta] = only_chunk(with_audio);
  const std::span<const float> middle(chunk.audio.data() + 16000, 16000);
  EXPECT_GT(tone_amplitude(middle, 440), 0.03) << "the participant's audio was lost";

  expect_refused(render(manifest(three_with("huge-video-only.mkv", 0)), "huge-video"),
                 "\"huge-video-only.mkv\": no decodable audio or video stream (video of 100000x100000 exceeds",
                 "video-only huge picture");
}

TEST_F(RobustnessTest, ManifestLimits) {
  std::vector<std::string> many;
  for (int i = 0; i < 10000; ++i) many.push_back(R"({"participantId": "p)" + std::to_string(i) + R"("})");
  expect_refused(render(manifest(many), "tenthousand"), "participants: 10000 participants exceed the limit of 256",
                 "10 000 participants");
  expect_refused(render(std::string(100000, '[') + std::string(100000, ']'), "deep"), "nested deeper than",
                 "deep JSON");
  // Found by fuzzing (fuzz_manifest): a number overflowing a double escaped as a JSON
  // library exception instead of a manifest error naming the file.
  const Render overflow = render(R"({"callId": "c", "maxChunkBytes": 66E20202026})", "overflow");
  expect_refused(overflow, "overflow.json: not valid JSON: number overflow", "number overflow");
  // Found by fuzzing (UBSan in fuzz_manifest): a float integer beyond int64_t was
  // converted before its range was checked.
  const nlohmann::json huge_offset = {{"participantId", "a"}, {"media", {{{"file", "ada.webm"}, {"offsetMs", 1e120}}}}};
  expect_refused(render(manifest({huge_offset.dump()}), "hugeoffset"), "participants[0].media[0].offsetMs: is too large",
                 "offsetMs 1e120");
  std::string big = manifest({participant("a", "ada.webm")}, R"("pad": ")" + std::string(5 << 20, 'x') + R"(", )");
  expect_refused(render(big, "big"), "byte limit", "5 MiB manifest");
  expect_refused(render(R"({"callId": "c", "recordingStartTime": "2026-11-27T10:00:00Z", "participants": [)" +
                            participant("a", "ada.webm") +
                            R"(], "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 9000000000000, "action": "stop"}]})",
                        "longcall"),
                 "timeline[1].atMs: is beyond the 24 h limit", "a 285-year call");
}

// Output names come only from generated ids: a hostile recordingId writes nothing
// outside the output folder, and an existing recording is not replaced without --force.
TEST_F(RobustnessTest, OutputStaysInsideTheOutputFolder) {
  const fs::path sandbox = *dir_ / "sandbox";
  fs::create_directories(sandbox);
  const std::string inside = manifest({participant("a", "carol.ogg")}, R"("recordingId": "../../../escaped/x", )");
  fs::copy_file(*dir_ / "carol.ogg", sandbox / "carol.ogg");
  const Render r = render(inside, "hostile-id", sandbox);
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  const std::regex name(R"([A-Za-z0-9_-]+\.(mp4|json))");
  for (const auto& f : fs::directory_iterator(r.out))
    EXPECT_TRUE(std::regex_match(f.path().filename().string(), name)) << f.path();
  EXPECT_FALSE(fs::exists(*dir_ / "escaped"));
  EXPECT_FALSE(fs::exists(dir_->parent_path() / "escaped"));

  const CommandResult again = run_command(
      {CALLREC_BINARY, "render", (sandbox / "hostile-id.json").string(), "--out", r.out.string(), "--quiet"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already holds a recording"), std::string::npos) << again.err;
}

// Resource bounds: run callrec under `prlimit --as` (address space). ASan reserves far
// more address space than that, so these run in the normal build only.
#if defined(__SANITIZE_ADDRESS__)
#define CALLREC_SKIP_UNDER_ASAN() GTEST_SKIP() << "ASan cannot run under prlimit --as"
#else
#define CALLREC_SKIP_UNDER_ASAN() (void)0
#endif

const std::vector<std::string> kTwoGiB = {"/usr/bin/prlimit", "--as=2147483648", "--"};

// A 49-party call (the full 7x7 grid, everyone with camera and voice) renders within
// 2 GiB of address space.
TEST_F(RobustnessTest, FortyNinePartiesRenderWithin2GiB) {
  CALLREC_SKIP_UNDER_ASAN();
  mg::write_media(*dir_ / "small.webm", {.duration_ms = 2000,
                                         .video = mg::VideoSpec{.width = 160, .height = 90, .fps = 15},
                                         .audio = mg::AudioSpec{.tones = {{0, 2000, 500, 0.05}}}});
  std::vector<std::string> ps;
  for (int i = 0; i < 49; ++i) ps.push_back(participant("p" + std::to_string(i), "small.webm"));
  const Render r = render(manifest(ps), "fortynine", *dir_, kTwoGiB);
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_TRUE(r.warnings.empty()) << r.result.err;
  const auto [chunk, meta] = only_chunk(r);
  EXPECT_EQ(meta["participants"].size(), 49u);
  EXPECT_NEAR(chunk.info.video_frames, 16, 1);  // 2 s at 8 fps (+ the audio's tail)
}

// An 8K camera is scaled to the canvas box as soon as it is decoded, so its queued
// pictures cost what 1080p ones do; a 120 fps camera is sampled at 8 fps as usual.
TEST_F(RobustnessTest, EightKAnd120FpsCamerasRenderWithin2GiB) {
  CALLREC_SKIP_UNDER_ASAN();
  mg::write_media(*dir_ / "8k.mkv", {.duration_ms = 1000,
                                     .video = mg::VideoSpec{.width = 7680, .height = 4320, .fps = 4,
                                                            .colour = {200, 40, 40}, .moving_square = false,
                                                            .encoder = "mpeg4"}});
  mg::write_media(*dir_ / "fast.webm", {.duration_ms = 2000,
                                        .video = mg::VideoSpec{.width = 320, .height = 180, .fps = 120,
                                                               .colour = {40, 40, 200}, .moving_square = false}});
  const Render r = render(manifest({participant("eightk", "8k.mkv"), participant("fast", "fast.webm")}), "big-cameras",
                          *dir_, kTwoGiB);
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_TRUE(r.warnings.empty()) << r.result.err;
  const auto& chunks = r.recording["data"]["recordingStorageInfo"]["recordingChunks"];
  ASSERT_EQ(chunks.size(), 1u);
  std::vector<Yuv> left, right;
  const DecodedChunk chunk =
      decode_chunk(r.out / (chunks[0]["documentId"].get<std::string>() + ".mp4"), [&](int64_t, const AVFrame& f) {
        left.push_back(pixel_at(f, 480, 540));
        right.push_back(pixel_at(f, 1440, 540));
      });
  EXPECT_NEAR(chunk.info.video_frames, 16, 1);
  ASSERT_GE(left.size(), 13u);
  // Side by side: the red 8K camera on the left for its second, the blue 120 fps one
  // on the right throughout.
  EXPECT_GT(left[2].v, 170) << "8K camera not shown";
  EXPECT_GT(right[2].u, 170) << "120 fps camera not shown";
  EXPECT_GT(right[12].u, 170) << "120 fps camera not shown";
}

// An H.264 camera keeping 16 reference pictures at 8K (0.9 GB of pictures in its decoder,
// and as much again in FFmpeg's own probing) is held to the 512 MiB one video decoder may
// hold: its video ends with a warning saying so, and the other participant's camera
// and voice are recorded in full, within 2 GiB of address space.
TEST_F(RobustnessTest, AnEightKCameraWithSixteenReferencesEndsOnlyItsOwnVideo) {
  CALLREC_SKIP_UNDER_ASAN();
  mg::write_media(*dir_ / "refs.mp4", {.duration_ms = 5000,
                                       .video = mg::VideoSpec{.width = 8192, .height = 4320, .fps = 4,
                                                              .colour = {40, 40, 200}, .encoder = "libx264",
                                                              .references = 16, .keyframe_interval_frames = 100}});
  const Render r =
      render(manifest({participant("ada", "ada.webm"), participant("refs", "refs.mp4")}), "references", *dir_, kTwoGiB);
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  const std::string refused = "would take more than the 512 MiB a video decoder may hold";
  ASSERT_TRUE(std::any_of(r.warnings.begin(), r.warnings.end(),
                          [&](const std::string& w) { return w.find("refs.mp4") != std::string::npos &&
                                                             w.find(refused) != std::string::npos; }))
      << r.result.err;
  std::vector<Yuv> left;
  const auto& chunks = r.recording["data"]["recordingStorageInfo"]["recordingChunks"];
  ASSERT_EQ(chunks.size(), 1u);
  const DecodedChunk chunk = decode_chunk(r.out / (chunks[0]["documentId"].get<std::string>() + ".mp4"),
                                          [&](int64_t, const AVFrame& f) { left.push_back(pixel_at(f, 480, 540)); });
  // ada's 4 s (the call runs as long as the longest media) with her tone throughout.
  EXPECT_GE(chunk.info.video_frames, 32);
  ASSERT_GE(left.size(), 32u);
  for (size_t i = 0; i < 32; i += 8) EXPECT_GT(left[i].v, 170) << "ada's camera missing at picture " << i;
  ASSERT_GE(chunk.audio.size(), 16000u * 4 - 1024);
  const std::span<const float> last_second(chunk.audio.data() + 16000 * 3 - 1024, 16000);
  EXPECT_GT(tone_amplitude(last_second, 440), 0.03) << "ada's voice missing";
  // Without the budget the two decoders (FFmpeg's probing one and the stream's own) held
  // 17 and 7 pictures of 53 MB: 1.5 GB. With it, 0.9 GB.
  EXPECT_LT(r.result.max_rss_kib, 1'100'000) << "peak resident memory";
}

// A WAV file whose metadata (a LIST/INFO chunk after the audio) claims a 1.6 GB comment:
// FFmpeg's WAV demuxer allocated and zeroed that much before finding the file shorter.
// No FFmpeg allocation may pass 128 MiB (av_max_alloc): the comment is not read, the
// audio is recorded, and the render stays small.
TEST_F(RobustnessTest, AWavWhoseMetadataClaimsGigabytesIsRecordedWithoutThem) {
  CALLREC_SKIP_UNDER_ASAN();
  mg::write_media(*dir_ / "bomb.wav", {.duration_ms = 2000,
                                       .audio = mg::AudioSpec{.sample_rate_hz = 16000,
                                                              .tones = {{0, 2000, 440, 0.3}},
                                                              .encoder = "pcm_s16le"}});
  std::vector<uint8_t> bytes = read_bytes(*dir_ / "bomb.wav");
  const auto le32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  const auto tag = [&](const char* t) { bytes.insert(bytes.end(), t, t + 4); };
  tag("LIST");
  le32(0x70000010);  // 1.9 GB of metadata
  tag("INFO");
  tag("ICMT");
  le32(0x60000000);  // a 1.6 GB comment, of which 5 bytes follow
  tag("hell");
  bytes.push_back('o');
  write_bytes(*dir_ / "bomb.wav", bytes);
  const Render r = render(manifest({participant("wav", "bomb.wav")}), "bomb");
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  const auto [chunk, meta] = only_chunk(r);
  ASSERT_GE(chunk.audio.size(), 16000u);
  EXPECT_GT(tone_amplitude(std::span<const float>(chunk.audio.data() + 8000, 8000), 440), 0.03);
  EXPECT_LT(r.result.max_rss_kib, 400'000) << "peak resident memory";
}

}  // namespace
}  // namespace callrec::testing
