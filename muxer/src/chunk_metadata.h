// The JSON documents of docs/contract.md: "Chunk metadata" and "Notification".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callrec/muxer/recording_writer.h"

namespace callrec::muxer {

struct ChunkFacts {
  std::string document_id;
  int chunk_index;
  int64_t duration_ms;  // media in the chunk
  uint64_t size_bytes;
  std::string sha256_hex;
  // The video's average bit rate, when it is not the configured one (constant or capped
  // quality); absent: the settings' video_bitrate_bps.
  std::optional<int64_t> video_bit_rate = std::nullopt;
};

// Schema 1.3 fields from `config`, `facts` and `annotation`; annotation.extra and the
// muxer's own extras (sha256, sizeBytes, recordingId) are merged in, but never
// replace a schema field.
nlohmann::json chunk_metadata(const RecordingConfig& config, const ChunkFacts& facts,
                              const ChunkAnnotation& annotation);

struct ChunkSummary {
  std::string document_id;
  int index;
  std::string end_reason;
};

// Schema 1.4. `event_id` is a UUID; `event_time` is when the event is emitted.
nlohmann::json recording_notification(const RecordingConfig& config, const std::string& event_id,
                                      const std::vector<ChunkSummary>& chunks, int64_t duration_ms,
                                      const std::string& session_end_reason, WallClock event_time);

}  // namespace callrec::muxer
