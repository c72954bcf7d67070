#include "recording_state.h"

#include <fstream>

#include "atomic_file.h"
#include "callrec/core/error.h"

namespace callrec::muxer {
namespace {

constexpr const char* kSuffix = ".state.json";

}  // namespace

std::filesystem::path state_path(const std::filesystem::path& out_dir, const std::string& document_id) {
  return out_dir / ("." + document_id + kSuffix);
}

bool is_state_path(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  const std::string suffix = kSuffix;
  return name.size() > suffix.size() + 1 && name.front() == '.' &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void write_state(const std::filesystem::path& path, const OpenChunkState& s) {
  nlohmann::json previous = nlohmann::json::array();
  for (const ChunkSummary& c : s.previous_chunks) {
    previous.push_back({{"documentId", c.document_id}, {"index", c.index}, {"endReason", c.end_reason}});
  }
  const nlohmann::json j = {
      {"version", 1},
      {"callId", s.config.call_id},
      {"resourceId", s.config.resource_id},
      {"recordingId", s.config.recording_id},
      {"recordingStartUs", s.config.recording_start_time.unix_us},
      {"maxChunkBytes", s.config.max_chunk_bytes},
      {"videoBitRate", s.config.encoder.video_bitrate_bps},
      {"audioBitRate", s.config.encoder.audio_bitrate_bps},
      {"documentId", s.document_id},
      {"chunkIndex", s.chunk_index},
      {"startFrames", s.start_frames},
      {"estimatedStartUs", s.estimated_start_time.unix_us},
      {"participantIds", s.participant_ids},
      {"previousChunks", std::move(previous)},
      {"audioPrimingSamples", s.audio_priming_samples},
  };
  write_file_atomically(path, j.dump());
}

OpenChunkState read_state(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open the chunk state file");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    OpenChunkState s;
    s.config.out_dir = path.parent_path();
    s.config.call_id = j.at("callId").get<std::string>();
    s.config.resource_id = j.at("resourceId").get<std::string>();
    s.config.recording_id = j.at("recordingId").get<std::string>();
    s.config.recording_start_time = WallClock{j.at("recordingStartUs").get<int64_t>()};
    s.config.max_chunk_bytes = j.at("maxChunkBytes").get<uint64_t>();
    s.config.encoder.video_bitrate_bps = j.at("videoBitRate").get<int>();
    s.config.encoder.audio_bitrate_bps = j.at("audioBitRate").get<int>();
    s.document_id = j.at("documentId").get<std::string>();
    s.chunk_index = j.at("chunkIndex").get<int>();
    s.start_frames = j.at("startFrames").get<int64_t>();
    s.estimated_start_time = WallClock{j.at("estimatedStartUs").get<int64_t>()};
    s.participant_ids = j.at("participantIds").get<std::vector<std::string>>();
    for (const auto& c : j.at("previousChunks")) {
      s.previous_chunks.push_back(
          {c.at("documentId").get<std::string>(), c.at("index").get<int>(), c.at("endReason").get<std::string>()});
    }
    s.audio_priming_samples = j.at("audioPrimingSamples").get<int64_t>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": malformed chunk state file: " + e.what());
  }
}

}  // namespace callrec::muxer
