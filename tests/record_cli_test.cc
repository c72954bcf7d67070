// `callrec record`: bad SDP files (one line each, nothing written), and a live call sent
// by ffmpeg stopped by SIGINT, SIGTERM or --duration (last chunk and recording.json
// written, exit 0), checked by decoding the chunk.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
}

#include "callrec/core/error.h"
#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "live_call.h"
#include "run_command.h"
#include "sender_harness.h"

extern char** environ;

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;
using ingest::test::free_port_pair;

void write_file(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

std::string opus_vp8_sdp(uint16_t audio_port, uint16_t video_port) {
  return "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nt=0 0\r\n"
         "m=audio " + std::to_string(audio_port) + " RTP/AVP 97\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:97 opus/48000/2\r\n"
         "m=video " + std::to_string(video_port) + " RTP/AVP 96\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:96 VP8/90000\r\n";
}

// `callrec record` running in the background, its stdout and stderr in files.
class RecordProcess {
 public:
  RecordProcess(const fs::path& dir, std::vector<std::string> args) : out_(dir / "record.out"), err_(dir / "record.err") {
    args.insert(args.begin(), {CALLREC_BINARY, "record"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~RecordProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Waits until it prints that it records (its ports are bound), at most 20 s.
  bool wait_recording() const {
    for (int i = 0; i < 400; ++i) {
      if (read_file(err_).find("recording ") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void signal(int s) const { kill(pid_, s); }
  // Exit status, or -1 when it has not exited within `timeout`.
  int wait_exit(std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

 private:
  fs::path out_, err_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

TEST(RecordCliTest, EveryBadSdpGetsOneLineNamingTheFileAndNothingIsWritten) {
  const fs::path dir = fresh_dir("record_cli_bad");
  const uint16_t a = free_port_pair(), v = free_port_pair(), x = free_port_pair();
  write_file(dir / "good.sdp", opus_vp8_sdp(a, v));
  write_file(dir / "vp9.sdp", "v=0\r\nc=IN IP4 127.0.0.1\r\nm=video " + std::to_string(x) +
                                  " RTP/AVP 96\r\na=rtpmap:96 VP9/90000\r\n");
  write_file(dir / "garbage.sdp", "hello\n");
  write_file(dir / "srtp.sdp", "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5004 RTP/SAVP 97\r\na=rtpmap:97 opus/48000/2\r\n");
  // Bob's SDP names Ada's ports: they cannot be bound twice.
  write_file(dir / "same_ports.sdp", opus_vp8_sdp(a, v));
  const fs::path out = dir / "out";
  const CommandResult r = run_command({CALLREC_BINARY, "record", "--out", out.string(), "--participant",
                                       "ada=" + (dir / "good.sdp").string(), "--participant",
                                       "bob=" + (dir / "vp9.sdp").string(), "--participant",
                                       "cat=" + (dir / "garbage.sdp").string(), "--participant",
                                       "dan=" + (dir / "srtp.sdp").string(), "--participant",
                                       "eve=" + (dir / "same_ports.sdp").string(), "--duration", "5"});
  EXPECT_EQ(r.exit_code, 1);
  const auto err = lines(r.err);
  ASSERT_EQ(err.size(), 4u) << r.err;
  EXPECT_EQ(err[0], "callrec: error: " + (dir / "vp9.sdp").string() +
                        ": line 4 (a=rtpmap:96 VP9/90000): codec VP9 is not supported (Opus, VP8, H264)");
  EXPECT_EQ(err[1].rfind("callrec: error: " + (dir / "garbage.sdp").string() + ": line 1 (hello): ", 0), 0u) << err[1];
  EXPECT_EQ(err[2].rfind("callrec: error: " + (dir / "srtp.sdp").string() + ": line 3 (", 0), 0u) << err[2];
  EXPECT_NE(err[2].find("encrypted"), std::string::npos) << err[2];
  EXPECT_EQ(err[3].rfind("callrec: error: " + (dir / "same_ports.sdp").string() + ": ", 0), 0u) << err[3];
  EXPECT_NE(err[3].find(std::to_string(a)), std::string::npos) << "names the port: " << err[3];
  EXPECT_TRUE(r.out.empty());
  EXPECT_FALSE(fs::exists(out) && !fs::is_empty(out)) << "nothing written";
}

TEST(RecordCliTest, AMissingFileOrAMalformedArgumentIsOneLine) {
  const fs::path dir = fresh_dir("record_cli_missing");
  CommandResult r = run_command({CALLREC_BINARY, "record", "--out", (dir / "out").string(), "--participant",
                                 "ada=" + (dir / "nowhere.sdp").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "callrec: error: " + (dir / "nowhere.sdp").string() + ": no such file\n");
  r = run_command({CALLREC_BINARY, "record", "--out", (dir / "out").string(), "--participant", "ada.sdp"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "callrec: error: --participant \"ada.sdp\": expected ID=FILE.sdp\n");
  EXPECT_FALSE(fs::exists(dir / "out"));
}

// A call from ffmpeg (Opus tone, red VP8 picture, sender reports), stopped by a signal or
// by --duration: exit 0, recording.json, a chunk that shows the picture and the tone.
class RecordStopTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordStopTest, StopsCleanlyWithTheLastChunkAndRecordingJson) {
  if (!ingest::test::have_program("ffmpeg")) GTEST_SKIP() << "ffmpeg is needed (scripts/lib.sh installs it)";
  const std::string how = GetParam();
  const fs::path dir = fresh_dir("record_cli_stop_" + how);
  const uint16_t a = free_port_pair(), v = free_port_pair();
  write_file(dir / "ada.sdp", opus_vp8_sdp(a, v));
  // Ada's media encoded beforehand (a red picture, a 440 Hz tone), sent in real time.
  const fs::path media = dir / "ada.webm";
  mediagen::write_media(media, {.duration_ms = 3000,
                                .video = mediagen::VideoSpec{.width = 320, .height = 240, .fps = 15,
                                                             .colour = {255, 0, 0}, .moving_square = false},
                                .audio = mediagen::AudioSpec{.tones = {{0, 3000, 440, 0.3}}}});
  // The sender shares the (often loaded) machine: a 1 s jitter window absorbs its stalls.
  std::vector<std::string> args{"--out", (dir / "out").string(), "--participant", "ada=" + (dir / "ada.sdp").string(),
                                "--jitter-window", "1000"};
  if (how == "duration") args.insert(args.end(), {"--duration", "8"});
  RecordProcess record(dir, args);
  ASSERT_TRUE(record.wait_recording()) << record.err();
  ASSERT_EQ(ingest::test::run_command("timeout 30 ffmpeg -hide_banner -loglevel error -re -i " + media.string() +
                                      " -map 0:a -c:a copy -f rtp rtp://127.0.0.1:" + std::to_string(a) +
                                      " -map 0:v -c:v copy -f rtp rtp://127.0.0.1:" + std::to_string(v) +
                                      " >/dev/null 2>&1"),
            0);
  if (how == "SIGINT") record.signal(SIGINT);
  if (how == "SIGTERM") record.signal(SIGTERM);
  EXPECT_EQ(record.wait_exit(std::chrono::seconds(60)), 0) << record.err();
  const fs::path out = dir / "out";
  ASSERT_TRUE(fs::exists(out / "recording.json")) << record.err();
  const auto chunks = published_files(out, ".mp4");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(lines(record.out()), std::vector<std::string>{chunks[0].string()}) << "the chunk printed";
  for (const auto& f : fs::directory_iterator(out)) EXPECT_FALSE(is_hidden(f.path().filename())) << f.path();
  const auto notification = read_json(out / "recording.json");
  EXPECT_GT(notification["data"]["recordingDurationMs"].get<double>(), 2500);
  expect_plays_completely(chunks[0]);
  // Ada's picture and voice are in it: the 3 s she sent (when ffmpeg started depends on
  // the machine's load, so the span is found, not assumed).
  std::vector<int64_t> red;
  const DecodedChunk decoded = decode_chunk(chunks[0], [&](int64_t index, const AVFrame& f) {
    if (near(tile_colour(f, 1, 0), kRed)) red.push_back(index);
  });
  ASSERT_GE(red.size(), 16u) << "Ada's camera shown for at least 2 s of her 3";
  const double middle_s = static_cast<double>(red[red.size() / 2]) / 8;
  std::vector<double> levels;  // 100 ms windows: a splice shifts the phase of a long one
  for (double t = middle_s - 0.5; t < middle_s + 0.5; t += 0.1) levels.push_back(tone_between(decoded.audio, 440, t, t + 0.1));
  std::sort(levels.begin(), levels.end());
  EXPECT_GT(levels[levels.size() / 2], 0.1) << "Ada's voice";
}

INSTANTIATE_TEST_SUITE_P(Stops, RecordStopTest, ::testing::Values("SIGINT", "SIGTERM", "duration"));

}  // namespace
}  // namespace callrec::testing
