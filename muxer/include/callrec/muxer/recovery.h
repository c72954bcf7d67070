// Completing a recording that a crash interrupted.
//
// While RecordingWriter writes a chunk, the chunk is a fragmented MP4 flushed after
// every period, and a small state file beside it holds what the metadata needs. After
// a crash, recover_recording() turns the interrupted chunk into a regular faststart
// MP4 (everything up to the last complete packet, no re-encoding), writes its metadata
// JSON (marked "recovered": true; chunkStartTime and participants are the writer's
// best estimates, as the engine's annotation of that chunk never happened) and writes
// recording.json with sessionEndReason "RecoveredAfterCrash".
//
// Threading: call with no RecordingWriter writing into `out_dir`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace callrec::muxer {

inline constexpr const char* kRecoveredSessionEndReason = "RecoveredAfterCrash";

// How the recording ended, as recording.json says it: a crash (the default), or a
// failure its writer's owner saw and names (a live session whose storage failed).
struct RecoveryEnd {
  std::string session_end_reason = kRecoveredSessionEndReason;
  // When not empty, the notification's data carries it as "sessionEndError".
  std::string failure;
};

// Returns the notification written, or nullopt when `out_dir` holds no interrupted
// recording (nothing to do). Throws callrec::Error naming the file on failure.
std::optional<nlohmann::json> recover_recording(const std::filesystem::path& out_dir, const RecoveryEnd& end = {});

}  // namespace callrec::muxer
