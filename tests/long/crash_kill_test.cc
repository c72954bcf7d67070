// Crash safety: the callrec binary renders a generated call under a small chunk limit
// and is SIGKILLed at many moments, densely around chunk switches. After each kill:
// every chunk whose .json exists plays completely, no JSON is half-written, and
// `callrec recover DIR` makes the interrupted chunk playable and recording.json
// complete. The media lost per kill is measured against the progress the binary
// printed right before it was killed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace mg = mediagen;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr uint64_t kMaxChunkBytes = 150'000;
constexpr int64_t kCallMs = 4'000;

// The binary running in the background, its stderr (progress lines) read as it comes.
class Render {
 public:
  Render(const fs::path& manifest, const fs::path& out) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 2);
      const int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, 1);
      // An average rate: at the default constant quality the call's first keyframe alone
      // (about 330 kB) would not fit the small chunks this test cuts.
      execl(CALLREC_BINARY, CALLREC_BINARY, "render", manifest.c_str(), "--out", out.c_str(), "--max-chunk-bytes",
            std::to_string(kMaxChunkBytes).c_str(), "--video-bitrate", "1000000", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    err_fd_ = fds[0];
  }
  ~Render() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait_exit();
    }
    close(err_fd_);
  }

  // Reads what stderr has; waits up to `timeout` for something. False at end of file.
  bool read_some(std::chrono::milliseconds timeout) {
    pollfd p{err_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return true;
    char buffer[4096];
    const ssize_t n = read(err_fd_, buffer, sizeof buffer);
    if (n <= 0) return false;
    err_.append(buffer, static_cast<size_t>(n));
    return true;
  }
  // Progress lines seen: "rendering: ... X s recorded", each printed after the
  // periods up to X were handed to the muxer.
  std::vector<double> progress_s() const {
    static constexpr std::string_view kMark = " s recorded";
    std::vector<double> out;
    for (size_t at = err_.find(kMark); at != std::string::npos; at = err_.find(kMark, at + kMark.size())) {
      // The number is the run of digits and dots before the mark (npos + 1 = 0: from the start).
      const size_t start = at == 0 ? 0 : err_.find_last_not_of("0123456789.", at - 1) + 1;
      if (start < at) out.push_back(std::stod(err_.substr(start, at - start)));
    }
    return out;
  }
  void kill() { ::kill(pid_, SIGKILL); }
  int wait_exit() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& err() const { return err_; }

 private:
  pid_t pid_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
  std::string err_;
};

// Every .json parses; every chunk with a .json has its .mp4 and it plays.
int64_t check_published_chunks(const fs::path& dir) {
  int64_t frames = 0;
  for (const fs::path& json : published_files(dir, ".json")) {
    nlohmann::json meta;
    EXPECT_NO_THROW(meta = read_json(json)) << json << " is half-written";
    const fs::path mp4 = dir / (json.stem().string() + ".mp4");
    EXPECT_TRUE(fs::exists(mp4)) << mp4 << " missing although its .json exists";
    if (!fs::exists(mp4)) continue;
    expect_plays_completely(mp4);
    frames += meta.value("videoFrames", int64_t{0});
  }
  return frames;
}

class CrashKillTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_ERROR);
    dir_ = new fs::path(fresh_dir("crash-kill"));
    // Sensor-like noise makes the encoder spend its whole rate, so chunks fill and
    // switch every ~2 s of media.
    mg::write_media(*dir_ / "ada.webm",
                    {.duration_ms = kCallMs,
                     .video = mg::VideoSpec{.width = 320, .height = 180, .fps = 15, .noise_amplitude = 40},
                     .audio = mg::AudioSpec{.tones = {{0, kCallMs, 440, 0.3}}}});
    std::ofstream(*dir_ / "call.json") << R"({
      "callId": "call-crash", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [{"participantId": "8:acs:ada", "media": [{"file": "ada.webm", "offsetMs": 0}]}]
    })";
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path* dir_;
};

fs::path* CrashKillTest::dir_ = nullptr;

struct KillOutcome {
  double rendered_s;    // progress printed before the kill (media handed to the muxer)
  double recovered_s;   // recordingDurationMs after recovery
  bool right_after_progress;
};

TEST_F(CrashKillTest, SigkillAtAnyMomentLosesAtMostTwoSecondsAndRecovers) {
  // An uninterrupted run: when (in wall time) each chunk switch happens.
  std::vector<double> switch_s;
  double total_s = 0;
  {
    const fs::path out = *dir_ / "whole";
    const auto start = Clock::now();
    Render render(*dir_ / "call.json", out);
    std::set<fs::path> seen;
    while (render.read_some(std::chrono::milliseconds(2))) {
      if (!fs::exists(out)) continue;
      for (const fs::path& json : published_files(out, ".json")) {
        if (seen.insert(json).second) switch_s.push_back(std::chrono::duration<double>(Clock::now() - start).count());
      }
    }
    ASSERT_EQ(render.wait_exit(), 0) << render.err();
    total_s = std::chrono::duration<double>(Clock::now() - start).count();
    ASSERT_GE(switch_s.size(), 4u) << "the limit should make several chunks";
    switch_s.pop_back();  // the last .json is the end of the recording, not a switch
  }

  // Kill moments (seconds after start): around every switch (a chunk's .json appears
  // a few periods after the switch, when its last audio arrived), spread over the run,
  // and right after a progress line for the exact loss.
  std::mt19937 random(20261127);
  std::vector<std::pair<double, bool>> kills;  // (time, right after progress line)
  for (size_t i = 0; i < std::min<size_t>(switch_s.size(), 4); ++i)
    for (double d : {-0.04, 0.0, 0.02})
      kills.push_back(
          {std::max(0.05, switch_s[i] + d + std::uniform_real_distribution<double>(-0.005, 0.005)(random)), false});
  while (kills.size() < 16)
    kills.push_back({std::uniform_real_distribution<double>(0.1, 0.95)(random) * total_s, false});
  for (int i = 0; i < 5; ++i)
    kills.push_back({std::uniform_real_distribution<double>(0.1, 0.9)(random) * total_s, true});
  ASSERT_GE(kills.size(), 20u);

  std::vector<KillOutcome> outcomes;
  int replanned = 0;
  for (size_t k = 0; k < kills.size(); ++k) {
    const auto [at_s, after_progress] = kills[k];
    SCOPED_TRACE("kill " + std::to_string(k) + " at " + std::to_string(at_s) + " s");
    const fs::path out = *dir_ / ("killed-" + std::to_string(k));
    struct RemoveAtExit {
      fs::path dir;
      ~RemoveAtExit() {
        std::error_code ignored;
        if (!::testing::Test::HasFailure()) fs::remove_all(dir, ignored);  // kept for a look when failing
      }
    } cleanup{out};
    const auto start = Clock::now();
    Render render(*dir_ / "call.json", out);
    bool ended = false;
    size_t progress_lines = 0;
    while (true) {
      const double now_s = std::chrono::duration<double>(Clock::now() - start).count();
      if (!after_progress && now_s >= at_s) break;
      if (!render.read_some(std::chrono::milliseconds(1))) {
        ended = true;
        break;
      }
      const size_t lines = render.progress_s().size();
      if (after_progress && now_s >= at_s && lines > progress_lines) break;  // a line just came
      progress_lines = lines;
    }
    render.kill();
    render.wait_exit();
    if (ended) {
      // Finished before the moment came (the machine got faster than the first run):
      // nothing to check here, so plan another kill inside this run's length instead.
      const double run_s = std::chrono::duration<double>(Clock::now() - start).count();
      if (replanned++ < 12)
        kills.push_back({std::uniform_real_distribution<double>(0.1, 0.8)(random) * run_s, after_progress});
      continue;
    }
    const std::vector<double> progress = render.progress_s();
    const double rendered_s = progress.empty() ? 0 : progress.back();

    // What a reader may see right after the crash.
    if (!fs::exists(out)) continue;
    check_published_chunks(out);
    const bool finished = fs::exists(out / "recording.json");

    const CommandResult recover = run_command({CALLREC_BINARY, "recover", out.string()});
    const bool anything = !published_files(out, ".mp4").empty() ||
                          std::any_of(fs::directory_iterator(out), fs::directory_iterator(),
                                      [](const auto& e) { return e.path().extension() == ".part"; });
    if (recover.exit_code != 0) {
      // Nothing to recover: killed before the first period reached the muxer, or after
      // the recording was complete.
      EXPECT_TRUE(finished || published_files(out, ".mp4").empty()) << recover.err;
      EXPECT_NE(recover.err.find("nothing to recover") == std::string::npos &&
                    recover.err.find("not an interrupted recording") == std::string::npos,
                true)
          << recover.err;
      continue;
    }
    EXPECT_TRUE(anything);
    EXPECT_NE(recover.err.find("recovered"), std::string::npos) << recover.err;

    // After recovery: a complete recording.
    const nlohmann::json rec = read_json(out / "recording.json");
    const auto& chunks = rec["data"]["recordingStorageInfo"]["recordingChunks"];
    ASSERT_GE(chunks.size(), 1u);
    int64_t frames = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_EQ(chunks[i]["index"], i);
      const fs::path mp4 = out / (chunks[i]["documentId"].get<std::string>() + ".mp4");
      EXPECT_LE(fs::file_size(mp4), kMaxChunkBytes);
      const nlohmann::json meta = read_json(out / (chunks[i]["documentId"].get<std::string>() + ".json"));
      EXPECT_EQ(meta["chunkIndex"], i);
      frames += meta["videoFrames"].get<int64_t>();
      const DecodedChunk c = decode_chunk(mp4);
      EXPECT_EQ(c.info.video_frames, meta["videoFrames"].get<int64_t>()) << mp4;
      EXPECT_TRUE(c.info.first_video_packet_key) << mp4;
      // A recovered chunk's audio may end up to three AAC frames before its video: the
      // encoder's delay and lookahead had not yet emitted them at the kill.
      const double video_samples = c.info.video_frames * 2000.0;
      EXPECT_LE(static_cast<double>(c.audio.size()), video_samples + 1024) << mp4;
      EXPECT_GE(static_cast<double>(c.audio.size()), video_samples - (meta.value("recovered", false) ? 4096 : 1024))
          << mp4;
    }
    EXPECT_EQ(check_published_chunks(out), frames);
    EXPECT_EQ(rec["data"]["recordingDurationMs"], frames * 125);
    if (!finished) {
      EXPECT_EQ(rec["data"]["sessionEndReason"], "RecoveredAfterCrash");
    }
    for (const auto& e : fs::directory_iterator(out)) EXPECT_FALSE(is_hidden(e.path())) << "left behind: " << e.path();

    const double recovered_s = rec["data"]["recordingDurationMs"].get<double>() / 1000;
    outcomes.push_back({rendered_s, recovered_s, after_progress});
    if (after_progress) {
      // The progress line was printed after its periods went to the muxer, and the kill
      // followed within a millisecond: rendered_s is the media written at the kill.
      EXPECT_LE(rendered_s - recovered_s, 2.0) << "a SIGKILL lost more than 2 s of media";
      EXPECT_LE(recovered_s, rendered_s + 0.25) << "recovered more than was rendered?";
    }
  }

  ASSERT_GE(outcomes.size(), 12u) << "too many kills came after the end";
  double worst = 0, sum = 0;
  int exact = 0;
  for (const KillOutcome& o : outcomes) {
    if (!o.right_after_progress) continue;
    worst = std::max(worst, o.rendered_s - o.recovered_s);
    sum += o.rendered_s - o.recovered_s;
    ++exact;
  }
  std::printf("%zu kills checked (%zu planned, %zu switches); media lost at %d kills right after a progress "
              "line: mean %.2f s, worst %.2f s\n",
              outcomes.size(), kills.size(), switch_s.size(), exact, exact ? sum / exact : 0.0, worst);
}

}  // namespace
}  // namespace callrec::testing
