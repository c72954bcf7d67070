// The state file written beside an open chunk: what recover_recording() needs to
// finish the chunk's metadata and the recording's notification after a crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "callrec/muxer/recording_writer.h"
#include "chunk_metadata.h"

namespace callrec::muxer {

struct OpenChunkState {
  RecordingConfig config;  // out_dir is not stored; it is where the file is
  std::string document_id;
  int chunk_index = 0;
  int64_t start_frames = 0;                  // output position of the chunk's first period
  WallClock estimated_start_time{0};         // previous chunk's end in wall-clock time
  std::vector<std::string> participant_ids;  // as in the previous chunk
  std::vector<ChunkSummary> previous_chunks;
  int64_t audio_priming_samples = 0;
};

// ".<documentId>.state.json": hidden, so listings of the outputs do not show it.
std::filesystem::path state_path(const std::filesystem::path& out_dir, const std::string& document_id);
bool is_state_path(const std::filesystem::path& path);

void write_state(const std::filesystem::path& path, const OpenChunkState& state);
// Throws callrec::Error naming the file when it is unreadable or malformed.
OpenChunkState read_state(const std::filesystem::path& path);

}  // namespace callrec::muxer
