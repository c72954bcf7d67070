// RecordingStory: the metadata's activity, pauses, problems and counters on the
// recording's timeline.
#include <gtest/gtest.h>

#include "callrec/core/wall_clock.h"
#include "recording_story.h"

namespace callrec::report {
namespace {

ChunkListing chunk(int index, int64_t start_ms, int64_t duration_ms, const std::string& start_time,
                   nlohmann::json metadata) {
  ChunkListing c;
  c.index = index;
  c.document_id = "d-" + std::to_string(index);
  c.start_ms = start_ms;
  c.duration_ms = duration_ms;
  c.start_wall_us = parse_iso8601(start_time)->unix_us;
  c.metadata = std::move(metadata);
  return c;
}

nlohmann::json span(int64_t a, int64_t b) { return {{"startMs", a}, {"endMs", b}}; }

TEST(RecordingStory, ActivityJoinsAcrossChunksAndTheOlderChunksFallBackToTheirParticipantList) {
  RecordingListing l;
  l.chunks.push_back(chunk(0, 0, 4000, "2026-11-27T10:00:00Z",
                           {{"participantActivity",
                             {{{"participantId", "a"}, {"displayName", "Ada"},
                               {"present", {span(0, 4000)}}, {"speaking", {span(500, 1000), span(3000, 4000)}}}}}}));
  l.chunks.push_back(chunk(1, 4000, 2000, "2026-11-27T10:00:04Z",
                           {{"participantActivity", {{{"participantId", "a"}, {"present", {span(0, 2000)}},
                                                      {"speaking", {span(0, 250)}}}}}}));
  l.chunks.push_back(chunk(2, 6000, 1000, "2026-11-27T10:00:06Z",
                           {{"participants", {{{"participantId", "a"}}, {{"participantId", "b"}}}}}));
  const RecordingStory s = read_recording_story(l);
  ASSERT_EQ(s.participants.size(), 2u);
  const ParticipantStory& a = s.participants[0];
  EXPECT_EQ(a.display_name, "Ada");
  ASSERT_EQ(a.spans[kPresent].size(), 1u);
  EXPECT_EQ(a.spans[kPresent][0].end_ms, 7000);
  ASSERT_EQ(a.spans[kSpeaking].size(), 2u);
  EXPECT_EQ(a.spans[kSpeaking][1].start_ms, 3000);
  EXPECT_EQ(a.spans[kSpeaking][1].end_ms, 4250);
  EXPECT_TRUE(a.presence_from_participant_list);
  EXPECT_EQ(s.participants[1].spans[kPresent][0].start_ms, 6000);
}

TEST(RecordingStory, PausesProblemsAndCountersAreDatedOnTheRecording) {
  RecordingListing l;
  ChunkListing c0 = chunk(0, 0, 10'000, "2026-11-27T10:00:00Z",
                          {{"mediaProblems", {"x.webm: corrupt packet skipped"}},
                           {"participantMediaStats", {{{"participantId", "a"}, {"opusPacketsLost", 2}}}}});
  // A 5 s pause 4 s into the chunk.
  c0.pauses_wall_us = {{parse_iso8601("2026-11-27T10:00:04Z")->unix_us, 5'000'000}};
  l.chunks.push_back(c0);
  l.chunks.push_back(chunk(1, 10'000, 10'000, "2026-11-27T10:00:15Z",
                           {{"mediaProblems",
                             {"x.webm: corrupt packet skipped",
                              "y.webm: audio ends here at 2026-11-27T10:00:17.500Z",
                              "z.webm: 2026-11-27 is no time; 12:00:00 neither",
                              // A live session's line: call time, then UTC.
                              "participant \"8:acs:eve\" at 0.300 s (2026-11-27T10:00:18.300Z): VP8 frame could not "
                              "be decoded (Invalid data found when processing input) (5 times, last at 0.540 s)",
                              {{"message", "camera stalled"}, {"time", "2026-11-27T10:00:06Z"}}}},
                            {"participantMediaStats", {{{"participantId", "a"}, {"opusPacketsLost", 5}}}}}));
  const RecordingStory s = read_recording_story(l);
  ASSERT_EQ(s.pauses.size(), 1u);
  EXPECT_EQ(s.pauses[0].at_ms, 4000);
  EXPECT_EQ(s.pauses[0].duration_ms, 5000);
  // Listed once each, from the chunk where they first appear.
  ASSERT_EQ(s.problems.size(), 5u);
  EXPECT_EQ(s.problems[0].first_chunk, 0);
  EXPECT_FALSE(s.problems[0].at_ms);
  EXPECT_EQ(s.problems[1].at_ms, 12'500);  // 10:00:17.5 is 2.5 s into chunk 1
  EXPECT_FALSE(s.problems[2].at_ms);
  EXPECT_EQ(s.problems[3].at_ms, 13'300);  // 10:00:18.3 is 3.3 s into chunk 1
  EXPECT_EQ(s.problems[4].text, "camera stalled");
  EXPECT_EQ(s.problems[4].at_ms, 4000);  // inside the pause: where the pause sits
  ASSERT_EQ(s.stat_changes.size(), 2u);
  EXPECT_EQ(s.stat_changes[1].chunk_index, 1);
  EXPECT_EQ(s.stat_changes[1].increase, 3);
  EXPECT_EQ(s.stat_totals.at("a").at("opusPacketsLost"), 5);
}

}  // namespace
}  // namespace callrec::report
