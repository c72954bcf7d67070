#include "callrec/muxer/recovery.h"

#include <algorithm>
#include <fstream>
#include <string_view>
#include <system_error>
#include <vector>

#include "atomic_file.h"
#include "callrec/core/error.h"
#include "chunk_metadata.h"
#include "callrec/core/random_id.h"
#include "recording_state.h"
#include "remux.h"

namespace callrec::muxer {
namespace {

void remove_quietly(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

void rename_or_throw(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  std::filesystem::rename(from, to, ec);
  if (ec) throw Error(from.string() + ": cannot rename to " + to.filename().string() + ": " + ec.message());
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": malformed JSON: " + e.what());
  }
}

// Temporaries a crash can leave behind that no state file accounts for: an atomic
// write's ".<name>.tmp", a remux's ".<id>.mp4.tmp", a chunk's ".<id>.mp4.part" whose
// state file never made it. Called once every state file has been dealt with.
void remove_leftover_temporaries(const std::filesystem::path& out_dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> leftovers;
  for (const auto& entry : std::filesystem::directory_iterator(out_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".") && (name.ends_with(".tmp") || name.ends_with(".mp4.part")))
      leftovers.push_back(entry.path());
  }
  for (const auto& path : leftovers) remove_quietly(path);
}

// Whether the file holds its whole header (ftyp and the empty moov a chunk is created
// with). A crash while the chunk's file was being created leaves less: nothing of the
// chunk was written then, and libavformat cannot even open it.
bool header_complete(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (!in || ec) return false;
  uint64_t offset = 0;
  while (offset + 8 <= file_size) {
    unsigned char header[16];
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in.read(reinterpret_cast<char*>(header), 8)) return false;
    uint64_t size = (uint64_t{header[0]} << 24) | (uint64_t{header[1]} << 16) | (uint64_t{header[2]} << 8) | header[3];
    if (size == 1) {  // 64-bit size
      if (!in.read(reinterpret_cast<char*>(header + 8), 8)) return false;
      size = 0;
      for (int i = 8; i < 16; ++i) size = (size << 8) | header[i];
    }
    if (size < 8 || offset + size > file_size) return false;
    if (std::string_view(reinterpret_cast<const char*>(header + 4), 4) == "moov") return true;
    offset += size;
  }
  return false;
}

}  // namespace

std::optional<nlohmann::json> recover_recording(const std::filesystem::path& out_dir, const RecoveryEnd& end) {
  std::error_code ec;
  std::vector<std::filesystem::path> state_files;
  for (const auto& entry : std::filesystem::directory_iterator(out_dir, ec)) {
    if (is_state_path(entry.path())) state_files.push_back(entry.path());
  }
  if (ec) throw Error(out_dir.string() + ": cannot list the output directory: " + ec.message());
  if (state_files.empty()) {
    remove_leftover_temporaries(out_dir);
    return std::nullopt;
  }

  // Several chunks can be unfinished: the one taking periods and those before it which
  // ended but were still waiting for the last AAC packets of their audio (usually one;
  // more when a chunk ends within a few periods of its start). A state file of a
  // finished chunk is one whose removal the crash interrupted.
  std::vector<OpenChunkState> states;
  for (const auto& path : state_files) states.push_back(read_state(path));
  std::sort(states.begin(), states.end(), [](const auto& a, const auto& b) { return a.chunk_index < b.chunk_index; });
  const std::filesystem::path notification_path = out_dir / "recording.json";

  std::vector<ChunkSummary> chunks = states.front().previous_chunks;
  int64_t total_frames = states.front().start_frames;
  for (size_t i = 0; i < states.size(); ++i) {
    const OpenChunkState& state = states[i];
    const bool newest = i + 1 == states.size();
    const std::string& id = state.document_id;
    const std::filesystem::path mp4 = out_dir / (id + ".mp4");
    const std::filesystem::path metadata_path = out_dir / (id + ".json");
    const std::filesystem::path part = out_dir / ("." + id + ".mp4.part");
    const std::filesystem::path remuxed = out_dir / ("." + id + ".mp4.tmp");
    // A chunk with a newer one after it ended because it was full.
    const char* end_reason = newest ? "SessionEnded" : "ChunkMaximumSizeExceeded";

    if (std::filesystem::exists(metadata_path)) {
      // The chunk was finished; the crash came after its metadata.
      const nlohmann::json metadata = read_json_file(metadata_path);
      chunks.push_back({id, state.chunk_index, metadata.value("endReason", std::string(end_reason))});
      total_frames += metadata.value("videoFrames", int64_t{0});
    } else {
      std::optional<RemuxStats> stats;
      if (std::filesystem::exists(mp4)) {
        // Complete and renamed, but its metadata never written: re-read it in place.
        stats = remux_to_faststart(mp4, remuxed, 0);
        rename_or_throw(remuxed, mp4);
      } else if (std::filesystem::exists(part) && header_complete(part)) {
        stats = remux_to_faststart(part, remuxed, state.audio_priming_samples);
        // A fragment holds its second of video before its second of audio: a file cut
        // inside the first fragment can hold pictures but no sound. A chunk has both
        // tracks, so that less-than-a-second is dropped like an empty file.
        if (stats->video_frames == 0 || stats->audio_samples == 0) {
          stats.reset();  // crashed before the first fragment reached the disk
          remove_quietly(remuxed);
        } else {
          rename_or_throw(remuxed, mp4);
        }
      }
      if (stats) {
        const int64_t video_ms = stats->video_frames * 1000 / kFrameRate;
        const int64_t audio_ms = stats->audio_samples * 1000 / kSampleRateHz;
        const ChunkFacts facts{id, state.chunk_index, std::max(video_ms, audio_ms), stats->size_bytes,
                               sha256_file_hex(mp4)};
        ChunkAnnotation annotation;
        annotation.start_time = state.estimated_start_time;
        annotation.participant_ids = state.participant_ids;
        annotation.extra = {{"recovered", true},
                            {"chunkStartTimeEstimated", true},
                            {"endReason", end_reason},
                            {"videoFrames", stats->video_frames},
                            {"audioSamples", stats->audio_samples}};
        write_file_atomically(metadata_path, chunk_metadata(state.config, facts, annotation).dump(2));
        chunks.push_back({id, state.chunk_index, end_reason});
        total_frames += stats->video_frames;
      }
    }
    remove_quietly(part);
    remove_quietly(remuxed);
  }
  const OpenChunkState& state = states.back();

  std::optional<nlohmann::json> notification;
  if (std::filesystem::exists(notification_path)) {
    notification = read_json_file(notification_path);  // finished before the crash
  } else if (!chunks.empty()) {
    notification = recording_notification(state.config, random_uuid_v4(), chunks, total_frames * 1000 / kFrameRate,
                                          end.session_end_reason, wall_clock_now());
    if (!end.failure.empty()) (*notification)["data"]["sessionEndError"] = end.failure;
    write_file_atomically(notification_path, notification->dump(2));
  }
  for (const auto& path : state_files) remove_quietly(path);
  remove_leftover_temporaries(out_dir);
  return notification;
}

}  // namespace callrec::muxer
