// A live session whose storage fails keeps what it recorded: the chunks up to the
// failure are completed (the open ones from their fragments, as `callrec recover`
// would), and recording.json says how the recording ended (sessionEndReason
// "OutputFailed", the failure in "sessionEndError"). The backend learns it from a
// kError event, then kRecordingFinished with that notification.
//
// The failure is real: a child process records in virtual time and, mid-recording,
// lowers its file size limit (RLIMIT_FSIZE) to just above the chunk being written, as a
// full quota would; the write that crosses it fails with EFBIG.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <random>

#include "callrec/session.h"
#include "live_call.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kChunkBytes = 600'000;  // 2-3 s of the noisy picture

// Exit codes of the recording child.
enum ChildExit {
  kOk = 0,
  kStartFailed = 10,
  kNoError = 11,
  kWrongError = 12,
  kNoFinish = 13,
  kWaitOk = 14,
  kPushAfterOk = 15,
};

uint64_t largest_part(const fs::path& dir) {
  uint64_t largest = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().ends_with(".mp4.part")) largest = std::max<uint64_t>(largest, entry.file_size());
  }
  return largest;
}

// Records until the file size limit bites; returns a ChildExit.
int record_until_storage_fails(const fs::path& out) {
  av_log_set_level(AV_LOG_QUIET);
  auto clock = std::make_shared<VirtualClock>();
  std::vector<SessionEvent> events;
  Session s({.out_dir = out,
             .call_id = "call-failing-storage",
             .max_chunk_bytes = kChunkBytes,
             .clock = clock,
             .on_event = [&](const SessionEvent& e) { events.push_back(e); }});
  if (!s.join("8:acs:ada", "Ada") || !s.start().status) return kStartFailed;
  std::mt19937 rng(1);
  const av::FramePtr noise = picture(320, 180, kRed);
  std::vector<int16_t> pcm(320);
  std::optional<int64_t> quota_at;
  for (int64_t t = 0; t < 12'000; t += 20) {
    // Two seconds after the first chunk is finished (the second then holds two of its
    // one-second fragments), the quota: a little above what the open chunk holds.
    if (!quota_at && std::any_of(events.begin(), events.end(), [](const SessionEvent& e) {
          return e.kind == SessionEventKind::kChunkFinished;
        })) {
      quota_at = t + 2000;
    }
    if (quota_at && t == *quota_at) {
      const rlim_t limit = largest_part(out) + 40'000;
      const rlimit l{limit, limit};
      setrlimit(RLIMIT_FSIZE, &l);
    }
    for (int i = 0; i < 320; ++i) pcm[i] = int16_t(6000 * std::sin(2 * M_PI * 440 * double(t * 16 + i) / 16000));
    if (!s.push_pcm("8:acs:ada", pcm, 16000, 1, MediaTime::from_ms(t))) break;
    if (t % 125 == 0) {
      // Noise, so the encoder spends its rate and chunks fill in a second or two.
      av_frame_make_writable(noise.get());
      for (int y = 0; y < 180; ++y)
        for (int x = 0; x < 320; ++x) noise->data[0][y * noise->linesize[0] + x] = static_cast<uint8_t>(rng());
      if (!s.push_video_frame("8:acs:ada", *noise, MediaTime::from_ms(t))) break;
    }
    clock->advance(MediaTime::from_ms(20));
  }
  Status waited = s.wait();
  if (waited.code() == SessionErrc::kInvalidArgument) {  // still recording: the failure never came
    (void)s.stop();
    waited = s.wait();
  }
  if (waited.code() != SessionErrc::kOutputFailed) return kWaitOk;
  if (s.push_pcm("8:acs:ada", pcm, 16000, 1, s.now()).code() != SessionErrc::kOutputFailed) return kPushAfterOk;
  const auto error = std::find_if(events.begin(), events.end(),
                                  [](const SessionEvent& e) { return e.kind == SessionEventKind::kError; });
  if (error == events.end()) return kNoError;
  if (error->error != SessionErrc::kOutputFailed || error->message.find("File too large") == std::string::npos)
    return kWrongError;
  const auto finished = std::find_if(error, events.end(), [](const SessionEvent& e) {
    return e.kind == SessionEventKind::kRecordingFinished;
  });
  if (finished == events.end() || finished->data["data"]["sessionEndReason"] != "OutputFailed") return kNoFinish;
  return kOk;
}

TEST(LiveOutputFailure, StorageFailureMidRecordingKeepsEveryChunkAndSaysHowItEnded) {
  const fs::path out = fresh_dir("live_storage_failure");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(record_until_storage_fails(out));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the recording process died (signal " << WTERMSIG(status) << ")";
  ASSERT_EQ(WEXITSTATUS(status), kOk) << "see ChildExit";

  const nlohmann::json notification = read_json(out / "recording.json");
  EXPECT_EQ(notification["data"]["sessionEndReason"], "OutputFailed");
  EXPECT_NE(notification["data"]["sessionEndError"].get<std::string>().find("File too large"), std::string::npos)
      << notification.dump(2);
  const nlohmann::json& chunks = notification["data"]["recordingStorageInfo"]["recordingChunks"];
  ASSERT_GE(chunks.size(), 2u) << "chunks finished before the failure, and the one it cut";
  int64_t media_ms = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const std::string id = chunks[i]["documentId"];
    const nlohmann::json meta = read_json(out / (id + ".json"));
    EXPECT_EQ(chunks[i]["index"], static_cast<int>(i));
    if (i + 1 < chunks.size()) {
      EXPECT_EQ(chunks[i]["endReason"], "ChunkMaximumSizeExceeded");
    }
    EXPECT_LE(fs::file_size(out / (id + ".mp4")), kChunkBytes);
    // Every chunk plays: both streams, as long as its metadata says.
    const DecodedChunk media = decode_chunk(out / (id + ".mp4"));
    EXPECT_EQ(media.info.width, 1920);
    EXPECT_GT(media.info.video_frames, 0);
    EXPECT_EQ(media.info.video_frames, meta["videoFrames"].get<int64_t>()) << id;
    EXPECT_GT(tone_between(media.audio, 440, 0.2, static_cast<double>(media.audio.size()) / 16000 - 0.2), 0.1) << id;
    media_ms += meta["chunkDuration"].get<int64_t>();
  }
  EXPECT_TRUE(read_json(out / (chunks.back()["documentId"].get<std::string>() + ".json")).value("recovered", false))
      << "the chunk the failure cut is completed from its fragments";
  // What was written reaches up to the failure (the first chunk, 2 s of the second and
  // what fitted under the quota).
  EXPECT_GT(media_ms, 3000);
  EXPECT_LT(media_ms, 12'000);
  for (const auto& entry : fs::directory_iterator(out)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".")) << "left behind: " << entry.path();
  }
  if (!::testing::Test::HasFailure()) fs::remove_all(out);
}

}  // namespace
}  // namespace callrec::testing
