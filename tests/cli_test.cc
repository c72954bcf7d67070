// The command line around a render: what it shows on stderr (FFmpeg's log lines only
// with --log-level; the progress line) and what `callrec recover` does to a folder
// that holds no recording.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>

#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;

fs::path write_call(const fs::path& dir, const std::string& file, int64_t duration_ms) {
  mediagen::write_media(dir / file, {.duration_ms = duration_ms,
                                     .video = mediagen::VideoSpec{},
                                     .audio = mediagen::AudioSpec{.tones = {{0, duration_ms, 440}}},
                                     .live = true});
  const fs::path manifest = dir / "call.json";
  std::ofstream(manifest) << R"({"callId": "cli-call", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [{"participantId": "ada", "media": [{"file": ")" + file + R"(", "offsetMs": 0}]}]})";
  return manifest;
}

TEST(CliTest, FfmpegLogLinesOnlyWithLogLevel) {
  const fs::path dir = fresh_dir("cli-log-level");
  const fs::path manifest = write_call(dir, "ada.webm", 1000);
  const CommandResult quiet = run_command({CALLREC_BINARY, "render", manifest.string(), "--out", (dir / "a").string()});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("[libx264 @"), std::string::npos) << quiet.err;
  // The option may come after the command's own.
  const CommandResult info = run_command(
      {CALLREC_BINARY, "render", manifest.string(), "--out", (dir / "b").string(), "--log-level", "info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.err.find("[libx264 @ 0x"), std::string::npos) << info.err;
  EXPECT_NE(info.err.find("kb/s:"), std::string::npos) << info.err;
  const CommandResult bad = run_command({CALLREC_BINARY, "--log-level", "loud", "render", manifest.string(), "--out",
                                         (dir / "c").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--log-level"), std::string::npos) << bad.err;
}

TEST(CliTest, RecoverOnAFolderWithoutARecordingSaysSoAndChangesNothing) {
  const fs::path dir = fresh_dir("cli-recover-foreign");
  const std::map<std::string, std::string> files = {
      {".mine.mp4.part", "someone's download"}, {".cache.tmp", "a cache"}, {"notes.txt", "minutes"}};
  for (const auto& [name, contents] : files) std::ofstream(dir / name) << contents;
  const CommandResult r = run_command({CALLREC_BINARY, "recover", dir.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no callrec recording here"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was changed"), std::string::npos) << r.err;
  for (const auto& [name, contents] : files) {
    std::ifstream in(dir / name);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), contents) << name;
  }
}

}  // namespace
}  // namespace callrec::testing
