// Completing a recording that a crash interrupted.
//
// While RecordingWriter writes a chunk, the chunk is a fragmented MP4 flushed after
// every period, and a small state file beside it holds what the metadata needs. After
// a crash, recover_recording() turns the interrupted chunk into a regular faststart
// MP4 (everything up to the last complete packet, no re-encoding), writes its metadata
// JSON (marked "recovered": true; chunkStartTime and participants are the writer's
// best estimates, as the engine's annotation of that chunk never happened) and writes
// recording.json with sessionEndReason "RecoveredAfterCrash" (or the reason a
// RecoveryEnd names: a live session completing its own chunks after its output failed).
//
// What it touches. Only files it can prove are the recording's own: the chunk state
// files (".<documentId>.state.json": a valid state whose documentId is its name) and
// files named from the recording's document ids (".<documentId>.mp4.part", ".mp4.tmp",
// ".json.tmp" and the state file's "..<documentId>.state.json.tmp"; a document id holds
// the recording's 128-bit random token, so no other program's file bears one). Anything else in the folder, hidden or
// not, is never modified or removed. When no chunk holds media yet (a recording that
// failed or was killed before its first second reached the disk), nothing is written
// and nothing removed: its files stay as they were, and the report says so.
//
// Threading: call with no RecordingWriter writing into `out_dir`. libav's lines (a
// truncated file makes the demuxer complain) go to the calling thread's log sink
// (callrec/core/log.h), or nowhere.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace callrec::muxer {

inline constexpr const char* kRecoveredSessionEndReason = "RecoveredAfterCrash";

// How the recording ended, as the recording.json written says it: a crash (the
// default), or a failure its writer's owner saw and names (a live session whose storage
// failed completes its own chunks this way).
struct RecoveryEnd {
  std::string session_end_reason = kRecoveredSessionEndReason;
  // When not empty, the notification's data carries it as "sessionEndError".
  std::string failure;
};

struct RecoveryReport {
  enum class Outcome {
    kNoRecording,         // no chunk state file of callrec's and no recording.json: nothing touched
    kAlreadyComplete,     // recording.json is there: nothing to recover
    kRecovered,           // recording.json written from the interrupted chunks
    kNothingRecoverable,  // an interrupted recording whose chunks hold no media yet: nothing touched
  };
  Outcome outcome = Outcome::kNoRecording;
  // From the state files (empty with kNoRecording).
  std::string recording_id;
  std::string call_id;
  // kRecovered: the notification written; kAlreadyComplete: the one in place.
  std::optional<nlohmann::json> notification;
  // What was found, one line each: each chunk and what became of it, files that look
  // like callrec's but are not provably so (left alone).
  std::vector<std::string> findings;
  // The recording's own files removed (temporaries and state files once done).
  std::vector<std::filesystem::path> removed;
};

// Throws callrec::Error naming the file on failure (unreadable folder, a remux or write
// that fails, state files of two recordings in one folder).
// `end` only names how the recording ended; what is touched is the same either way.
RecoveryReport recover_recording(const std::filesystem::path& out_dir, const RecoveryEnd& end = {});

}  // namespace callrec::muxer
