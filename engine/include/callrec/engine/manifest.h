// The call manifest (docs/contract.md, "The call manifest"): what to render, parsed and
// validated. Strict: a key the contract does not name is an error naming its path.
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

// Bounds on what a manifest may ask for (docs/limits.md). A manifest beyond them is
// refused with a message naming the field; none of them is reached by a real call.
struct ManifestLimits {
  static constexpr uint64_t kMaxManifestBytes = 4 << 20;
  static constexpr int kMaxJsonDepth = 32;
  static constexpr size_t kMaxParticipants = 256;
  // A camera reconnecting every minute for a day. Files are opened one at a time to be
  // checked, then only while the render is inside them, so these bound the manifest's
  // size and the time spent checking it, not open files.
  static constexpr size_t kMaxMediaPerParticipant = 1440;
  static constexpr size_t kMaxMediaEntries = 4096;
  static constexpr size_t kMaxTimelineActions = 10000;
  static constexpr size_t kMaxStringBytes = 1024;  // ids, names, file names
  // offsetMs and atMs: a call lasts at most 24 hours.
  static constexpr int64_t kMaxCallMs = int64_t{24} * 3600 * 1000;
};

// Media path policy: a manifest names its media by relative paths that stay inside the
// manifest's folder tree, also after resolving symlinks. Refused with a message naming
// the field: absolute paths, ".." components, URLs and protocol prefixes ("http:",
// "concat:", "subfile:", "file:", ...), playlists and lists (.m3u8, .m3u, .ffconcat, ...),
// image-sequence patterns ("%03d", wildcards) and control characters.

// Reads and validates a manifest file. Throws callrec::Error with a one-line message
// naming the file and the field, e.g. `call.json: participants[1].participantId:
// duplicate "8:acs:ada"`. Media files are not opened here.
Manifest load_manifest(const std::filesystem::path& path);

// Same, from text; `name` is used in messages, `base_dir` to resolve media paths.
Manifest parse_manifest(std::string_view text, const std::string& name, const std::filesystem::path& base_dir);

}  // namespace callrec::engine
