// Bad input through the command line: a one-line error naming the field or file, a
// non-zero exit, and no recording presented as complete.
#include <gtest/gtest.h>

#include <fstream>

#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

struct Case {
  const char* name;
  std::string manifest;
  std::string expected;  // must appear in the message
};

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_ERROR);
    dir_ = new std::filesystem::path(fresh_dir("bad-input"));
    mediagen::write_media(*dir_ / "ok.ogg", {.duration_ms = 1000, .audio = mediagen::AudioSpec{.tones = {{0, 1000, 440}}}});
    std::ofstream(*dir_ / "text.webm") << "this is not a video\n";
    std::ofstream(*dir_ / "empty.webm");
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::filesystem::path* dir_;
};

std::filesystem::path* BadInputTest::dir_ = nullptr;

std::string with(const std::string& participants, const std::string& timeline = "") {
  return R"({"callId": "c", "recordingStartTime": "2026-11-27T10:00:00Z", "participants": )" + participants +
         (timeline.empty() ? "" : ", \"timeline\": " + timeline) + "}";
}

TEST_F(BadInputTest, EachGivesOneLineNamingTheCauseAndNoCompleteOutput) {
  const std::string ok = R"([{"participantId": "a", "media": [{"file": "ok.ogg", "offsetMs": 0}]}])";
  const std::vector<Case> cases = {
      {"unreadable json", "{\"callId\": \"c\", ", "not valid JSON"},
      {"missing callId", R"({"recordingStartTime": "2026-11-27T10:00:00Z", "participants": [{"participantId": "a"}]})",
       "callId: required field is missing"},
      {"missing participantId", with(R"([{"media": []}])"), "participants[0].participantId"},
      {"file does not exist", with(R"([{"participantId": "a", "media": [{"file": "nope.webm", "offsetMs": 0}]}])"),
       "participants[0].media[0].file \"nope.webm\": no such file"},
      {"file is not media", with(R"([{"participantId": "a", "media": [{"file": "text.webm", "offsetMs": 0}]}])"),
       "\"text.webm\": not a media file"},
      {"file is empty", with(R"([{"participantId": "a", "media": [{"file": "empty.webm", "offsetMs": 0}]}])"),
       "\"empty.webm\""},
      {"unknown action", with(ok, R"([{"atMs": 0, "action": "start"}, {"atMs": 10, "action": "rewind"}])"),
       "timeline[1].action: unknown action \"rewind\""},
      {"pause while paused",
       with(ok, R"([{"atMs": 0, "action": "start"}, {"atMs": 10, "action": "pause"}, {"atMs": 20, "action": "pause"}])"),
       "timeline[2].action: pause while paused"},
      {"duplicate participantId",
       with(R"([{"participantId": "a"}, {"participantId": "a", "media": [{"file": "ok.ogg"}]}])"),
       "participants[1].participantId: duplicate \"a\""},
      {"negative offset", with(R"([{"participantId": "a", "media": [{"file": "ok.ogg", "offsetMs": -1}]}])"),
       "participants[0].media[0].offsetMs: must not be negative"},
      // Misspelt keys: once silently ignored (offset 0, a participant without media, the
      // default chunk limit), each with exit 0.
      {"offsetMS", with(R"([{"participantId": "a"}, {"participantId": "b", "media": [{"file": "ok.ogg", "offsetMS": 500}]}])"),
       "participants[1].media[0].offsetMS: unknown key; did you mean \"offsetMs\"?"},
      {"medias", with(R"([{"participantId": "a", "medias": [{"file": "ok.ogg"}]}])"),
       "participants[0].medias: unknown key; did you mean \"media\"?"},
      {"maxChunkByte",
       R"({"callId": "c", "recordingStartTime": "2026-11-27T10:00:00Z", "maxChunkByte": 100000, "participants": )" + ok + "}",
       "maxChunkByte: unknown key; did you mean \"maxChunkBytes\"?"},
  };
  for (const Case& c : cases) {
    const auto manifest = *dir_ / "call.json";
    std::ofstream(manifest) << c.manifest;
    const auto out = *dir_ / "out";
    std::filesystem::remove_all(out);
    const CommandResult r = run_command({CALLREC_BINARY, "render", manifest.string(), "--out", out.string()});
    EXPECT_EQ(r.exit_code, 1) << c.name;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.name << ": stderr was: " << r.err;
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    EXPECT_EQ(err.find('\n'), std::string::npos) << c.name << ": not one line: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(out / "recording.json")) << c.name;
  }
}

TEST_F(BadInputTest, MissingManifestAndBadUsage) {
  const CommandResult missing = run_command({CALLREC_BINARY, "render", (*dir_ / "absent.json").string(), "--out",
                                             (*dir_ / "o").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("absent.json"), std::string::npos);
  EXPECT_EQ(run_command({CALLREC_BINARY, "render"}).exit_code, 2);
  // An unknown command is named, with the commands there are.
  const CommandResult unknown = run_command({CALLREC_BINARY, "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("callrec: error: unknown command \"frobnicate\"; the commands are: "), std::string::npos)
      << unknown.err;
  for (const char* command : {"render", "recover"})
    EXPECT_NE(unknown.err.find(command, unknown.err.find("the commands are")), std::string::npos) << unknown.err;
  const CommandResult none = run_command({CALLREC_BINARY});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("a command is required: "), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("render"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace callrec::testing
