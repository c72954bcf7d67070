// The call manifest (CONTRACT §2): what to render, parsed and validated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "callrec/core/wall_clock.h"

namespace callrec::engine {

struct MediaEntry {
  std::filesystem::path file;  // resolved against the manifest's folder
  std::string file_as_written;
  int64_t offset_ms = 0;       // where the file's first media lands on the call timeline
  bool screen_share = false;   // "role": "screen"
  std::string field;           // e.g. "participants[0].media[1]", for messages
};

struct Participant {
  std::string participant_id;
  std::string display_name;
  std::vector<MediaEntry> media;
};

enum class TimelineActionKind { kStart, kPause, kResume, kStop };

struct TimelineAction {
  int64_t at_ms;
  TimelineActionKind kind;
};

struct Manifest {
  std::string call_id;
  std::string resource_id;
  std::optional<std::string> recording_id;
  WallClock recording_start_time;
  std::optional<uint64_t> max_chunk_bytes;
  std::vector<Participant> participants;
  std::vector<TimelineAction> timeline;  // validated; empty when absent
};

// Reads and validates a manifest file. Throws callrec::Error with a one-line message
// naming the file and the field, e.g. `call.json: participants[1].participantId:
// duplicate "8:acs:ada"`. Media files are not opened here.
Manifest load_manifest(const std::filesystem::path& path);

// Same, from text; `name` is used in messages, `base_dir` to resolve media paths.
Manifest parse_manifest(std::string_view text, const std::string& name, const std::filesystem::path& base_dir);

}  // namespace callrec::engine
