#include "callrec/engine/manifest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "callrec/core/error.h"

namespace callrec::engine {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_manifest(text, "call.json", "/calls");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kValid = R"({
  "callId": "c0ffee", "resourceId": "r1", "recordingStartTime": "2026-11-27T10:00:00Z",
  "maxChunkBytes": 1048576,
  "participants": [
    {"participantId": "8:acs:ada", "displayName": "Ada Lovelace",
     "media": [{"file": "ada.webm", "offsetMs": 0}, {"file": "ada-screen.mp4", "offsetMs": 42000, "role": "screen"}]},
    {"participantId": "8:acs:bob"}
  ],
  "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 20000, "action": "pause"},
               {"atMs": 35000, "action": "resume"}, {"atMs": 60000, "action": "stop"}]
})";

TEST(Manifest, ParsesEveryField) {
  const Manifest m = parse_manifest(kValid, "call.json", "/calls");
  EXPECT_EQ(m.call_id, "c0ffee");
  EXPECT_EQ(m.resource_id, "r1");
  EXPECT_FALSE(m.recording_id);
  EXPECT_EQ(format_iso8601(m.recording_start_time), "2026-11-27T10:00:00.000Z");
  EXPECT_EQ(m.max_chunk_bytes, 1048576u);
  ASSERT_EQ(m.participants.size(), 2u);
  ASSERT_EQ(m.participants[0].media.size(), 2u);
  EXPECT_EQ(m.participants[0].media[1].file, std::filesystem::path("/calls/ada-screen.mp4"));
  EXPECT_EQ(m.participants[0].media[1].offset_ms, 42000);
  EXPECT_TRUE(m.participants[0].media[1].screen_share);
  EXPECT_TRUE(m.participants[1].media.empty());
  ASSERT_EQ(m.timeline.size(), 4u);
  EXPECT_EQ(m.timeline[1].kind, TimelineActionKind::kPause);
}

struct BadCase {
  const char* name;
  std::string text;
  std::string expected;  // a substring of the one-line message
};

TEST(Manifest, EveryBadInputNamesTheFieldOnOneLine) {
  const std::string head = R"({"callId": "c", "recordingStartTime": "2026-11-27T10:00:00Z", )";
  const std::vector<BadCase> cases = {
      {"not json", "{\"callId\": ", "call.json: not valid JSON"},
      {"not an object", "[1, 2]", "call.json: must be a JSON object"},
      {"missing callId", R"({"recordingStartTime": "2026-11-27T10:00:00Z", "participants": [{"participantId": "a"}]})",
       "call.json: callId: required field is missing"},
      {"missing start time", R"({"callId": "c", "participants": [{"participantId": "a"}]})",
       "recordingStartTime: required field is missing"},
      {"bad start time", R"({"callId": "c", "recordingStartTime": "yesterday", "participants": [{"participantId": "a"}]})",
       "recordingStartTime: not an ISO 8601"},
      {"no participants", head + R"("participants": []})", "participants: must not be empty"},
      {"missing participantId", head + R"("participants": [{"displayName": "x"}]})",
       "participants[0].participantId: required field is missing"},
      {"duplicate participantId", head + R"("participants": [{"participantId": "a"}, {"participantId": "a"}]})",
       "participants[1].participantId: duplicate \"a\""},
      {"negative offset", head + R"("participants": [{"participantId": "a", "media": [{"file": "a.webm", "offsetMs": -5}]}]})",
       "participants[0].media[0].offsetMs: must not be negative"},
      {"missing file", head + R"("participants": [{"participantId": "a", "media": [{"offsetMs": 5}]}]})",
       "participants[0].media[0].file: required field is missing"},
      {"offset not integer", head + R"("participants": [{"participantId": "a", "media": [{"file": "a", "offsetMs": "5"}]}]})",
       "participants[0].media[0].offsetMs: must be an integer"},
      {"unknown role", head + R"("participants": [{"participantId": "a", "media": [{"file": "a", "role": "x"}]}]})",
       "participants[0].media[0].role: unknown role"},
      {"unknown action", head + R"("participants": [{"participantId": "a"}], "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 5, "action": "jump"}]})",
       "timeline[1].action: unknown action \"jump\""},
      {"pause while paused", head + R"("participants": [{"participantId": "a"}], "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 5, "action": "pause"}, {"atMs": 6, "action": "pause"}]})",
       "timeline[2].action: pause while paused"},
      {"resume while recording", head + R"("participants": [{"participantId": "a"}], "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 5, "action": "resume"}]})",
       "timeline[1].action: resume while not paused"},
      {"time goes back", head + R"("participants": [{"participantId": "a"}], "timeline": [{"atMs": 10, "action": "start"}, {"atMs": 5, "action": "stop"}]})",
       "timeline[1].atMs: goes back in time"},
      {"action after stop", head + R"("participants": [{"participantId": "a"}], "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 5, "action": "stop"}, {"atMs": 6, "action": "start"}]})",
       "timeline[2]"},
      {"no start", head + R"("participants": [{"participantId": "a"}], "timeline": [{"atMs": 0, "action": "pause"}]})",
       "timeline[0].action"},
      {"chunk limit too small", head + R"("maxChunkBytes": 10, "participants": [{"participantId": "a"}]})",
       "maxChunkBytes: must be at least"},
  };
  for (const BadCase& c : cases) {
    const std::string message = error_of(c.text);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.name << ": got \"" << message << "\"";
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.name << ": message is not one line";
  }
}

// A day of a camera reconnecting every minute fits; past the file limits the manifest
// is refused naming the participant's media.
TEST(Manifest, MediaFileLimits) {
  const auto call = [](int participants, int files_each) {
    std::string text = R"({"callId": "c", "recordingStartTime": "2026-11-27T10:00:00Z", "participants": [)";
    for (int p = 0; p < participants; ++p) {
      text += std::string(p ? "," : "") + R"({"participantId": "p)" + std::to_string(p) + R"(", "media": [)";
      for (int f = 0; f < files_each; ++f)
        text += std::string(f ? "," : "") + R"({"file": "p.webm", "offsetMs": )" + std::to_string(f * 60000) + "}";
      text += "]}";
    }
    return text + "]}";
  };
  EXPECT_EQ(error_of(call(2, ManifestLimits::kMaxMediaPerParticipant)), "");
  EXPECT_NE(error_of(call(1, ManifestLimits::kMaxMediaPerParticipant + 1))
                .find("participants[0].media: 1441 files exceed the limit of 1440 per participant"),
            std::string::npos);
  const int per_participant = ManifestLimits::kMaxMediaEntries / 4 + 1;
  EXPECT_NE(error_of(call(4, per_participant)).find("participants[3].media: more than 4096 media files in the call"),
            std::string::npos)
      << error_of(call(4, per_participant));
}

// A misspelt key is refused, named by its path, with the key meant when one is close:
// silently ignored, "offsetMS" rendered the file at 0 and "medias" dropped a
// participant's media from the recording.
TEST(Manifest, UnknownKeysAreNamedWithTheKeyMeant) {
  const std::string head = R"({"callId": "c", "recordingStartTime": "2026-11-27T10:00:00Z", )";
  const std::vector<BadCase> cases = {
      {"offsetMS", head + R"("participants": [{"participantId": "a"}, {"participantId": "b", "media": [{"file": "b.webm", "offsetMS": 5000}]}]})",
       "call.json: participants[1].media[0].offsetMS: unknown key; did you mean \"offsetMs\"?"},
      {"medias", head + R"("participants": [{"participantId": "a", "medias": [{"file": "a.webm"}]}]})",
       "call.json: participants[0].medias: unknown key; did you mean \"media\"?"},
      {"maxChunkByte", head + R"("maxChunkByte": 1000000, "participants": [{"participantId": "a"}]})",
       "call.json: maxChunkByte: unknown key; did you mean \"maxChunkBytes\"?"},
      {"atms", head + R"("participants": [{"participantId": "a"}], "timeline": [{"atms": 0, "action": "start"}]})",
       "call.json: timeline[0].atms: unknown key; did you mean \"atMs\"?"},
      {"callID before the missing callId", R"({"callID": "c", "recordingStartTime": "2026-11-27T10:00:00Z", "participants": [{"participantId": "a"}]})",
       "call.json: callID: unknown key; did you mean \"callId\"?"},
      {"displayname", head + R"("participants": [{"participantId": "a", "displayname": "Ada"}]})",
       "participants[0].displayname: unknown key; did you mean \"displayName\"?"},
      {"nothing close", head + R"("participants": [{"participantId": "a", "media": [{"file": "a.webm", "volume": 3}]}]})",
       "call.json: participants[0].media[0].volume: unknown key (expected file, offsetMs or role)"},
      {"nothing close at the top", head + R"("comment": "x", "participants": [{"participantId": "a"}]})",
       "call.json: comment: unknown key (expected callId, resourceId, recordingId, recordingStartTime, "
       "maxChunkBytes, participants or timeline)"},
      {"a key that is not a name", head + "\"a\\nb\\\"c\": 1, " + R"("participants": [{"participantId": "a"}]})",
       "call.json: \"a\\nb\\\"c\": unknown key"},
  };
  for (const BadCase& c : cases) {
    const std::string message = error_of(c.text);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.name << ": got \"" << message << "\"";
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.name << ": message is not one line";
  }
  // Every key of the contract is known (kValid has them all but recordingId).
  EXPECT_EQ(error_of(std::string(kValid).replace(1, 0, R"("recordingId": "rec-1", )")), "");
}

TEST(Manifest, UnknownKeysAreRefusedByTheFileLoaderToo) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "callrec-manifest-keys";
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "call.json");
    out << R"({"callId": "c", "recordingStartTime": "2026-11-27T10:00:00Z",
              "participants": [{"participantId": "a", "media": [{"file": "a.webm", "offsetMS": 1}]}]})";
  }
  try {
    load_manifest(dir / "call.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "call.json").string() +
                                         ": participants[0].media[0].offsetMS: unknown key; did you mean \"offsetMs\"?");
  }
  std::filesystem::remove_all(dir);
}

TEST(Manifest, MissingFileIsNamed) {
  try {
    load_manifest("/nonexistent/call.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/call.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace callrec::engine
