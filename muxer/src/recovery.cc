#include "callrec/muxer/recovery.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <string_view>
#include <system_error>
#include <vector>

#include "atomic_file.h"
#include "callrec/core/error.h"
#include "callrec/core/log.h"
#include "callrec/core/random_id.h"
#include "chunk_metadata.h"
#include "recording_state.h"
#include "remux.h"

namespace callrec::muxer {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kStateSuffix = ".state.json";
// What the writer (and this recovery) name after a chunk while it is unfinished: the
// fragmented chunk, the remux of it, and the atomic writes of its metadata and state
// (write_file_atomically's ".<name>.tmp": the state file's name starts with a dot too).
struct ChunkTemporary {
  std::string_view prefix;
  std::string_view suffix;
};
constexpr ChunkTemporary kChunkTemporaries[] = {
    {".", ".mp4.part"}, {".", ".mp4.tmp"}, {".", ".json.tmp"}, {"..", ".state.json.tmp"}};
constexpr size_t kTokenLength = 32;

// The writer's document ids: the recording's token (32 lowercase hex digits, random per
// recording), '-', the chunk index in 6 digits.
bool is_document_id(std::string_view id) {
  if (id.size() != kTokenLength + 7 || id[kTokenLength] != '-') return false;
  for (size_t i = 0; i < kTokenLength; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(id[i])) || std::isupper(static_cast<unsigned char>(id[i])))
      return false;
  for (size_t i = kTokenLength + 1; i < id.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(id[i]))) return false;
  return true;
}

// A temporary (kChunkTemporaries) of a chunk of the recording whose token is `token`.
bool is_recordings_temporary(const std::string& name, const std::string& token) {
  for (const ChunkTemporary& t : kChunkTemporaries) {
    const size_t id_size = kTokenLength + 7;
    if (name.size() != t.prefix.size() + id_size + t.suffix.size()) continue;
    if (!name.starts_with(t.prefix) || !name.ends_with(t.suffix)) continue;
    const std::string_view id = std::string_view(name).substr(t.prefix.size(), id_size);
    if (id.starts_with(token) && is_document_id(id)) return true;
  }
  return false;
}

std::string file_size_text(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? "size unknown" : std::to_string(size) + " bytes";
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw Error(from.string() + ": cannot rename to " + to.filename().string() + ": " + ec.message());
}

nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": malformed JSON: " + e.what());
  }
}

// Whether the file holds its whole header (ftyp and the empty moov a chunk is created
// with). A crash while the chunk's file was being created leaves less: nothing of the
// chunk was written then, and libavformat cannot even open it.
bool header_complete(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
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

std::string seconds_text(int64_t ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", static_cast<double>(ms) / 1000);
  return text;
}

struct FoundState {
  fs::path path;
  OpenChunkState state;
};

class Recovery {
 public:
  Recovery(fs::path dir, RecoveryEnd end) : dir_(std::move(dir)), end_(std::move(end)) {}

  RecoveryReport run() {
    std::vector<FoundState> states = find_states();
    const fs::path notification_path = dir_ / "recording.json";
    std::error_code ec;
    const bool complete = fs::exists(notification_path, ec);
    if (states.empty()) {
      report_.outcome = complete ? RecoveryReport::Outcome::kAlreadyComplete : RecoveryReport::Outcome::kNoRecording;
      if (complete) report_.notification = read_json_file(notification_path);
      return std::move(report_);
    }
    std::sort(states.begin(), states.end(),
              [](const auto& a, const auto& b) { return a.state.chunk_index < b.state.chunk_index; });
    report_.recording_id = states.front().state.config.recording_id;
    report_.call_id = states.front().state.config.call_id;
    token_ = states.front().state.document_id.substr(0, kTokenLength);

    if (complete) {
      // The crash came after recording.json and before the last state file went.
      report_.outcome = RecoveryReport::Outcome::kAlreadyComplete;
      report_.notification = read_json_file(notification_path);
      report_.findings.push_back("recording.json is in place: the recording was complete; its leftover state file(s) "
                                 "removed");
      remove_recordings_files(states);
      return std::move(report_);
    }
    recover_chunks(states);
    return std::move(report_);
  }

 private:
  // The chunk state files of one recording. A file only named like one is reported and
  // left alone; state files of two recordings are refused (which is whose is not ours
  // to guess).
  std::vector<FoundState> find_states() {
    std::error_code ec;
    std::vector<fs::path> candidates;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (is_state_path(entry.path())) candidates.push_back(entry.path());
    }
    if (ec) throw Error(dir_.string() + ": cannot list the folder: " + ec.message());
    std::sort(candidates.begin(), candidates.end());
    std::vector<FoundState> states;
    std::map<std::string, std::string> recordings;  // token -> recording id
    for (const fs::path& path : candidates) {
      const std::string name = path.filename().string();
      const std::string id = name.substr(1, name.size() - 1 - kStateSuffix.size());
      const std::string ignored = name + ": not a callrec chunk state file (";
      if (!is_document_id(id)) {
        report_.findings.push_back(ignored + "its name holds no callrec document id); left alone");
        continue;
      }
      try {
        OpenChunkState state = read_state(path);
        if (state.document_id != id) {
          report_.findings.push_back(ignored + "it names chunk " + state.document_id + "); left alone");
          continue;
        }
        recordings.emplace(id.substr(0, kTokenLength), state.config.recording_id);
        states.push_back({path, std::move(state)});
      } catch (const Error& e) {
        std::string why = e.what();
        if (why.starts_with(path.string() + ": ")) why.erase(0, path.string().size() + 2);
        report_.findings.push_back(ignored + why + "); left alone");
      }
    }
    if (recordings.size() > 1) {
      std::string ids;
      for (const auto& [token, recording_id] : recordings) ids += (ids.empty() ? "" : ", ") + recording_id;
      throw Error(dir_.string() + ": holds the chunk state files of " + std::to_string(recordings.size()) +
                  " recordings (" + ids + "); recover each in a folder of its own; nothing was changed");
    }
    return states;
  }

  // Several chunks can be unfinished: the one taking periods and those before it which
  // ended but were still waiting for the last AAC packets of their audio (usually one;
  // more when a chunk ends within a few periods of its start). A state file of a
  // finished chunk is one whose removal the crash interrupted.
  void recover_chunks(const std::vector<FoundState>& states) {
    std::vector<ChunkSummary> chunks = states.front().state.previous_chunks;
    if (!chunks.empty())
      report_.findings.push_back(std::to_string(chunks.size()) + " chunk(s) closed before the crash, kept as they were");
    int64_t total_frames = states.front().state.start_frames;
    std::vector<fs::path> made;  // remuxes of chunks that turned out to hold no media
    for (size_t i = 0; i < states.size(); ++i) {
      const OpenChunkState& state = states[i].state;
      const bool newest = i + 1 == states.size();
      const std::string& id = state.document_id;
      const fs::path mp4 = dir_ / (id + ".mp4");
      const fs::path metadata_path = dir_ / (id + ".json");
      const fs::path part = dir_ / ("." + id + ".mp4.part");
      const fs::path remuxed = dir_ / ("." + id + ".mp4.tmp");
      const std::string chunk = "chunk " + std::to_string(state.chunk_index) + " (" + id + ")";
      // A chunk with a newer one after it ended because it was full.
      const char* end_reason = newest ? "SessionEnded" : "ChunkMaximumSizeExceeded";

      if (fs::exists(metadata_path)) {
        // The chunk was finished; the crash came after its metadata.
        const nlohmann::json metadata = read_json_file(metadata_path);
        chunks.push_back({id, state.chunk_index, metadata.value("endReason", std::string(end_reason))});
        total_frames += metadata.value("videoFrames", int64_t{0});
        report_.findings.push_back(chunk + ": closed before the crash, kept as it was");
        continue;
      }
      std::optional<RemuxStats> stats;
      std::string source;
      if (fs::exists(mp4)) {
        // Complete and renamed, but its metadata never written: re-read it in place.
        source = mp4.filename().string() + " (complete, without metadata)";
        stats = remux_to_faststart(mp4, remuxed, 0);
        rename_or_throw(remuxed, mp4);
      } else if (!fs::exists(part)) {
        report_.findings.push_back(chunk + ": no media file (" + part.filename().string() + " is missing)");
      } else if (!header_complete(part)) {
        report_.findings.push_back(chunk + ": " + part.filename().string() + " (" + file_size_text(part) +
                                   ") is cut inside its header: no media reached the disk");
      } else {
        source = part.filename().string() + " (" + file_size_text(part) + ")";
        stats = remux_to_faststart(part, remuxed, state.audio_priming_samples);
        // A fragment holds its second of video before its second of audio: a file cut
        // inside the first fragment can hold pictures but no sound. A chunk has both
        // tracks, so that less-than-a-second is dropped like an empty file.
        if (stats->video_frames == 0 || stats->audio_samples == 0) {
          report_.findings.push_back(chunk + ": " + source + " holds no complete second of media (" +
                                     std::to_string(stats->video_frames) + " pictures, " +
                                     std::to_string(stats->audio_samples) + " audio samples)");
          stats.reset();
          made.push_back(remuxed);
        } else {
          rename_or_throw(remuxed, mp4);
        }
      }
      if (!stats) continue;
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
      report_.findings.push_back(chunk + ": recovered " + seconds_text(std::max(video_ms, audio_ms)) + " (" +
                                 std::to_string(stats->video_frames) + " pictures) from " + source);
    }

    if (chunks.empty()) {
      // Nothing of the recording is playable: keep its files as they are (what the
      // crash left is evidence) and take back only what this run made.
      for (const fs::path& path : made) {
        std::error_code ignored;
        fs::remove(path, ignored);
      }
      report_.outcome = RecoveryReport::Outcome::kNothingRecoverable;
      return;
    }
    const OpenChunkState& newest = states.back().state;
    nlohmann::json notification = recording_notification(newest.config, random_uuid_v4(), chunks,
                                                         total_frames * 1000 / kFrameRate, end_.session_end_reason,
                                                         wall_clock_now());
    if (!end_.failure.empty()) notification["data"]["sessionEndError"] = end_.failure;
    write_file_atomically(dir_ / "recording.json", notification.dump(2));
    report_.notification = notification;
    report_.outcome = RecoveryReport::Outcome::kRecovered;
    remove_recordings_files(states);
  }

  // Once the recording is complete: its state files and every temporary named after
  // one of its chunks (the token proves whose they are). Nothing else.
  void remove_recordings_files(const std::vector<FoundState>& states) {
    std::vector<fs::path> doomed;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (is_recordings_temporary(entry.path().filename().string(), token_)) doomed.push_back(entry.path());
    }
    for (const FoundState& s : states) doomed.push_back(s.path);
    std::sort(doomed.begin(), doomed.end());
    for (const fs::path& path : doomed) {
      std::error_code removed;
      if (fs::remove(path, removed)) report_.removed.push_back(path);
    }
  }

  fs::path dir_;
  RecoveryEnd end_;
  std::string token_;
  RecoveryReport report_;
};

}  // namespace

RecoveryReport recover_recording(const fs::path& out_dir, const RecoveryEnd& end) {
  const ScopedLogSink log_scope(current_log_sink());  // libav's lines: the caller's sink, or nowhere
  return Recovery(out_dir, end).run();
}

}  // namespace callrec::muxer
