// RecordingListing: what a recording directory holds, read from its JSON files.
//
// A recording callrec wrote (CONTRACT §1): chunks <documentId>.mp4 + <documentId>.json
// and recording.json. Works on a finished recording, on one still being written or cut
// short by a crash (no recording.json: the chunk JSONs present are listed), and on
// recovered chunks (fewer fields). Nothing in the directory is trusted: document ids
// must be [A-Za-z0-9_-], files are read only from the directory itself and up to a
// size limit, and what cannot be read is listed as a finding, not thrown.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace callrec::report {

struct ChunkListing {
  std::string document_id;
  int index = 0;
  std::filesystem::path mp4;   // may not exist
  nlohmann::json metadata = nlohmann::json::object();  // the chunk's JSON (empty when unreadable or deleted)
  std::optional<std::string> end_reason;
  // Place on the recording's media timeline (paused time removed): the chunks are back
  // to back, each as long as its video (videoFrames) or else its chunkDuration.
  int64_t start_ms = 0;
  int64_t duration_ms = 0;
  std::optional<int64_t> start_wall_us;  // chunkStartTime
  // Pauses inside the chunk: wall-clock start and length.
  std::vector<std::pair<int64_t, int64_t>> pauses_wall_us;

  // Wall-clock time of chunk-relative media time `ms` (pauses before it added).
  std::optional<int64_t> wall_us_at(int64_t ms) const;
};

struct RecordingListing {
  std::filesystem::path dir;
  std::optional<nlohmann::json> notification;  // recording.json
  std::vector<ChunkListing> chunks;            // in index order
  std::vector<std::string> findings;           // what could not be read, one line each
  int64_t duration_ms() const { return chunks.empty() ? 0 : chunks.back().start_ms + chunks.back().duration_ms; }
  // The first chunk's string field `key` ("callId", "recordingId", ...), or "".
  std::string chunk_field(const char* key) const;
};

// Throws callrec::Error when `dir` is not a directory or holds no recording at all.
RecordingListing read_recording_listing(const std::filesystem::path& dir);

}  // namespace callrec::report
