// RecordingStory: what the chunk metadata says happened, on the recording's timeline
// (milliseconds of media from the start of the recording, paused time removed):
// participants' activity, pauses, media problems, mixer statistics per chunk.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "recording_listing.h"

namespace callrec::report {

struct ActivitySpan {
  int64_t start_ms;
  int64_t end_ms;
  std::optional<int64_t> start_wall_us;
  std::optional<int64_t> end_wall_us;
};

enum ActivityKind { kPresent, kCamera, kScreenShare, kSpeaking, kActivityKinds };
// The metadata's field name ("present", "camera", "screenShare", "speaking").
const char* activity_field(ActivityKind kind);

struct ParticipantStory {
  std::string participant_id;
  std::string display_name;
  // Stretches touching end to start (across a chunk boundary or a pause) are joined.
  std::array<std::vector<ActivitySpan>, kActivityKinds> spans;
  // Chunks without "participantActivity" (older or recovered chunks): presence comes
  // from the chunk's participant list, for the whole chunk.
  bool presence_from_participant_list = false;
};

struct PauseMark {
  int64_t at_ms;  // recording time where the pause sits
  int64_t wall_start_us;
  int64_t duration_ms;
  int chunk_index;
};

struct ProblemMark {
  std::string text;
  std::optional<int64_t> at_ms;        // when a time could be read from the entry
  std::optional<int64_t> wall_us;
  int first_chunk;                     // the first chunk whose metadata lists it
};

// A mixer/ingest counter of one participant that grew during a chunk.
struct StatChange {
  std::string participant_id;
  std::string counter;
  int chunk_index;
  int64_t increase;
  int64_t total;
};

struct RecordingStory {
  std::vector<ParticipantStory> participants;  // in order of first appearance
  std::vector<PauseMark> pauses;
  std::vector<ProblemMark> problems;
  std::vector<StatChange> stat_changes;
  // Final value of each counter per participant (the last chunk's).
  std::map<std::string, std::map<std::string, int64_t>> stat_totals;
};

RecordingStory read_recording_story(const RecordingListing& listing);

// Recording time at a wall-clock instant, when it falls inside a chunk's span; an
// instant inside a pause maps to the pause's place.
std::optional<int64_t> recording_ms_at_wall(const RecordingListing& listing, int64_t wall_us);

}  // namespace callrec::report
