// RecordingListing: chunks found from recording.json or from the chunk JSONs alone,
// placed back to back, with what could not be read listed rather than thrown.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include "callrec/core/error.h"
#include "callrec/core/wall_clock.h"
#include "recording_listing.h"
#include "recording_story.h"

namespace callrec::report {
namespace {

namespace fs = std::filesystem;

class RecordingListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("callrec-listing-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const nlohmann::json& j) { std::ofstream(dir_ / name) << j.dump(); }
  void chunk(const std::string& id, int index, int64_t frames, const std::string& start,
             nlohmann::json pauses = nlohmann::json::array()) {
    write(id + ".json", {{"chunkDocumentId", id}, {"chunkIndex", index}, {"videoFrames", frames},
                         {"chunkDuration", frames * 125 + 40}, {"chunkStartTime", start},
                         {"pauseResumeIntervals", pauses}, {"callId", "c1"}});
  }

  fs::path dir_;
};

TEST_F(RecordingListingTest, ChunksFromTheNotificationArePlacedBackToBack) {
  chunk("abc-000000", 0, 80, "2026-11-27T10:00:00.000Z",
        {{{"startTime", "2026-11-27T10:00:04.000Z"}, {"duration", 3000}}});
  chunk("abc-000001", 1, 40, "2026-11-27T10:00:13.000Z");
  write("recording.json", {{"data",
                            {{"recordingStorageInfo",
                              {{"recordingChunks",
                                {{{"documentId", "abc-000000"}, {"index", 0}, {"endReason", "ChunkMaximumSizeExceeded"}},
                                 {{"documentId", "abc-000001"}, {"index", 1}, {"endReason", "SessionEnded"}}}}}}}}});
  const RecordingListing l = read_recording_listing(dir_);
  ASSERT_EQ(l.chunks.size(), 2u);
  EXPECT_TRUE(l.findings.empty()) << l.findings.front();
  EXPECT_EQ(l.chunks[0].duration_ms, 10'000);  // from the video frames, not chunkDuration
  EXPECT_EQ(l.chunks[1].start_ms, 10'000);
  EXPECT_EQ(l.duration_ms(), 15'000);
  EXPECT_EQ(l.chunks[0].end_reason, "ChunkMaximumSizeExceeded");
  EXPECT_EQ(l.chunk_field("callId"), "c1");
  // Wall-clock time runs on through the pause at 4 s.
  const int64_t t0 = parse_iso8601("2026-11-27T10:00:00Z")->unix_us;
  EXPECT_EQ(l.chunks[0].wall_us_at(3'000), t0 + 3'000'000);
  EXPECT_EQ(l.chunks[0].wall_us_at(5'000), t0 + 8'000'000);
}

TEST_F(RecordingListingTest, WithoutRecordingJsonTheChunkFilesAreListedAndGapsFound) {
  chunk("abc-000000", 0, 8, "2026-11-27T10:00:00.000Z");
  chunk("abc-000002", 2, 8, "2026-11-27T10:00:02.000Z");
  std::ofstream(dir_ / "abc-000003.json") << "{ not json";
  write("notes.json", {{"hello", 1}});                  // not a chunk's metadata
  write("other.json", {{"chunkDocumentId", "else"}, {"chunkIndex", 5}});  // names another file
  const RecordingListing l = read_recording_listing(dir_);
  EXPECT_FALSE(l.notification);
  ASSERT_EQ(l.chunks.size(), 2u);
  EXPECT_EQ(l.chunks[1].index, 2);
  ASSERT_EQ(l.findings.size(), 1u);
  EXPECT_EQ(l.findings[0], "chunk 1 is missing");
}

TEST_F(RecordingListingTest, HostileNamesAndNonRecordingsAreRefused) {
  EXPECT_THROW(read_recording_listing(dir_), Error);  // empty: not a recording
  EXPECT_THROW(read_recording_listing(dir_ / "nothing-here"), Error);
  // recording.json naming files outside the directory: the entries are skipped.
  write("recording.json", {{"data",
                            {{"recordingStorageInfo",
                              {{"recordingChunks", {{{"documentId", "../../etc/passwd"}, {"index", 0}}}}}}}}});
  const RecordingListing l = read_recording_listing(dir_);
  EXPECT_TRUE(l.chunks.empty());
  ASSERT_FALSE(l.findings.empty());
  EXPECT_NE(l.findings[0].find("valid documentId"), std::string::npos);
}

// Absurd numbers are clamped before any arithmetic (the sanitizer build checks that
// nothing overflows).
TEST_F(RecordingListingTest, AbsurdNumbersAreClampedNotOverflowed) {
  write("x-000000.json",
        nlohmann::json::parse(R"({"chunkDocumentId": "x-000000", "chunkIndex": 0, "videoFrames": 9000000000000000000,
          "chunkStartTime": "9999-12-31T23:59:59Z",
          "pauseResumeIntervals": [{"startTime": "9999-12-31T23:59:59Z", "duration": 18000000000000000000},
                                   {"startTime": "0001-01-01T00:00:00Z", "duration": -9000000000000000000}],
          "participantActivity": [{"participantId": "a", "present": [{"startMs": -1e300, "endMs": 1e300}],
                                   "speaking": [{"startMs": 18000000000000000000, "endMs": -9223372036854775807}]}],
          "mediaProblems": ["at 9999-12-31T23:59:59Z", "at 0001-01-01T00:00:00Z"],
          "participantMediaStats": [{"participantId": "a", "opusPacketsLost": 18446744073709551615},
                                    {"participantId": "a", "opusPacketsLost": -9223372036854775807}]})"));
  const RecordingListing l = read_recording_listing(dir_);
  ASSERT_EQ(l.chunks.size(), 1u);
  EXPECT_EQ(l.chunks[0].duration_ms, 48LL * 3600 * 1000);
  EXPECT_TRUE(l.chunks[0].wall_us_at(l.chunks[0].duration_ms).has_value());
  const RecordingStory s = read_recording_story(l);
  ASSERT_EQ(s.participants.size(), 1u);
  ASSERT_EQ(s.participants[0].spans[kPresent].size(), 1u);
  EXPECT_EQ(s.participants[0].spans[kPresent][0].end_ms, l.chunks[0].duration_ms);
  EXPECT_EQ(s.problems.size(), 2u);
}

}  // namespace
}  // namespace callrec::report
