// The command line around a render: what it shows on stderr (FFmpeg's log lines only
// with --log-level; the progress line) and what `callrec recover` does to a folder
// that holds no recording.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>

#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavutil/frame.h>
}

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

// A machine without any font: the render succeeds, the placeholder is a plain colour
// tile (no initials), and the command says why.
TEST(CliTest, WithoutAnyFontPlaceholdersArePlainAndTheRenderSucceeds) {
  const fs::path dir = fresh_dir("cli-no-font");
  mediagen::write_media(dir / "carol.ogg",
                        {.duration_ms = 1000, .audio = mediagen::AudioSpec{.tones = {{0, 1000, 440}}}});
  std::ofstream(dir / "call.json") << R"({"callId": "no-font", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [{"participantId": "carol", "displayName": "Carol Shaw",
                        "media": [{"file": "carol.ogg", "offsetMs": 0}]}]})";
  // fontconfig with a configuration that names no font folder: it finds nothing.
  std::ofstream(dir / "fonts.conf") << "<?xml version=\"1.0\"?>\n<fontconfig></fontconfig>\n";
  const char* before = std::getenv("FONTCONFIG_FILE");
  const std::string saved = before ? before : "";
  ::setenv("FONTCONFIG_FILE", (dir / "fonts.conf").c_str(), 1);
  const CommandResult r =
      run_command({CALLREC_BINARY, "render", (dir / "call.json").string(), "--out", (dir / "out").string(), "-q"});
  if (before) {
    ::setenv("FONTCONFIG_FILE", saved.c_str(), 1);
  } else {
    ::unsetenv("FONTCONFIG_FILE");
  }
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("callrec: compositor: fontconfig found no font for the placeholder initials"),
            std::string::npos)
      << r.err;
  const auto chunks = published_files(dir / "out", ".mp4");
  ASSERT_EQ(chunks.size(), 1u);
  // One participant: the whole canvas is Carol's tile. Initials would be white (Y 235)
  // in its middle; the tile's colour is a medium one (Y 60-170).
  int pictures = 0, inked = 0;
  decode_chunk(chunks[0], [&](int64_t, const AVFrame& frame) {
    ++pictures;
    for (int y = 340; y < 740; y += 4) {
      for (int x = 760; x < 1160; x += 4) inked += frame.data[0][y * frame.linesize[0] + x] > 200;
    }
  });
  EXPECT_GT(pictures, 0);
  EXPECT_EQ(inked, 0) << "initials were drawn without a font?";
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
