// A RecordingSession without an engine, for the route tests and the fuzzer: the same
// control state machine as callrec::Session (start, pause, resume, stop, join, leave and
// their errors), events emitted at once from the calling thread, and on stop one small
// "chunk" written into the output directory (bytes 0..N-1 and its metadata JSON) before
// the chunk-finished and recording-finished events.
#pragma once

#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "callrec/service/recording_session.h"

namespace callrec::service::testing {

struct FakeSessionLog {
  std::mutex mu;
  std::map<std::string, std::set<std::string>> present;  // by recording id
  std::map<std::string, std::vector<std::string>> calls;  // "join 8:acs:a", "pause", ...
};

class FakeSession final : public RecordingSession {
 public:
  FakeSession(RecordingSessionConfig c, FakeSessionLog* log, size_t chunk_bytes)
      : c_(std::move(c)), log_(log), chunk_bytes_(chunk_bytes) {}
  Status start(std::string_view ctx) override {
    if (phase_ != 0) return {SessionErrc::kAlreadyStarted, "started"};
    phase_ = 1;
    note("start");
    emit_state(RecordingState::kActive, "start", ctx);
    return {};
  }
  Status pause(std::string_view ctx) override {
    if (phase_ == 0) return {SessionErrc::kNotStarted, "not started"};
    if (phase_ == 2) return {SessionErrc::kAlreadyPaused, "paused"};
    if (phase_ == 3) return {SessionErrc::kStopped, "stopped"};
    phase_ = 2;
    note("pause");
    emit_state(RecordingState::kInactive, "pause", ctx);
    return {};
  }
  Status resume(std::string_view ctx) override {
    if (phase_ == 0) return {SessionErrc::kNotStarted, "not started"};
    if (phase_ == 1) return {SessionErrc::kNotPaused, "not paused"};
    if (phase_ == 3) return {SessionErrc::kStopped, "stopped"};
    phase_ = 1;
    note("resume");
    emit_state(RecordingState::kActive, "resume", ctx);
    return {};
  }
  Status stop(std::string_view ctx) override {
    if (phase_ == 0) return {SessionErrc::kNotStarted, "not started"};
    if (phase_ == 3) return {SessionErrc::kStopped, "stopped"};
    phase_ = 3;
    note("stop");
    emit_state(RecordingState::kInactive, "stop", ctx);
    const std::string doc = "0123456789abcdef0123456789abcdef-" + c_.recording_id.substr(0, 8) + "-000000";
    {
      std::ofstream media(c_.out_dir / (doc + ".mp4"), std::ios::binary);
      for (size_t i = 0; i < chunk_bytes_; ++i) media.put(static_cast<char>(i & 0xff));
    }
    const nlohmann::json metadata = {{"chunkDocumentId", doc}, {"chunkIndex", 0}, {"callId", c_.call_id}};
    std::ofstream(c_.out_dir / (doc + ".json")) << metadata.dump();
    SessionEvent chunk{SessionEventKind::kChunkFinished};
    chunk.data = metadata;
    c_.on_event(chunk);
    SessionEvent done{SessionEventKind::kRecordingFinished};
    done.data = {{"id", "event-1"},
                 {"topic", ""},
                 {"subject", "/recording/call/" + c_.call_id},
                 {"eventType", "Microsoft.Communication.RecordingFileStatusUpdated"},
                 {"data",
                  {{"recordingStorageInfo",
                    {{"recordingChunks", {{{"documentId", doc}, {"index", 0}, {"endReason", "SessionEnded"}}}}}},
                   {"recordingStartTime", "2026-12-03T09:20:48.000Z"},
                   {"recordingDurationMs", 1000},
                   {"sessionEndReason", "RecordingStopped"}}},
                 {"dataVersion", "1.0"},
                 {"metadataVersion", "1"},
                 {"eventTime", "2026-12-03T09:20:49.000Z"}};
    std::ofstream(c_.out_dir / "recording.json") << done.data.dump();
    c_.on_event(done);
    return {};
  }
  RecordingState state() const override { return phase_ == 1 ? RecordingState::kActive : RecordingState::kInactive; }
  Status join(std::string_view id, std::string_view) override {
    if (phase_ == 3) return {SessionErrc::kStopped, "stopped"};
    if (log_) {
      std::lock_guard lock(log_->mu);
      if (!log_->present[c_.recording_id].insert(std::string(id)).second)
        return {SessionErrc::kParticipantPresent, "present"};
    }
    note("join " + std::string(id));
    return {};
  }
  Status leave(std::string_view id) override {
    if (phase_ == 3) return {SessionErrc::kStopped, "stopped"};
    if (log_) {
      std::lock_guard lock(log_->mu);
      if (!log_->present[c_.recording_id].erase(std::string(id)))
        return {SessionErrc::kUnknownParticipant, "unknown"};
    }
    note("leave " + std::string(id));
    return {};
  }
  nlohmann::json stats() const override { return {{"periodsWritten", 0}, {"periodsLate", 0}}; }

 private:
  void note(const std::string& what) {
    if (!log_) return;
    std::lock_guard lock(log_->mu);
    log_->calls[c_.recording_id].push_back(what);
  }
  void emit_state(RecordingState s, const char* op, std::string_view ctx) {
    SessionEvent e{SessionEventKind::kStateChanged, s, op, std::string(ctx)};
    c_.on_event(e);
  }
  RecordingSessionConfig c_;
  FakeSessionLog* log_;
  size_t chunk_bytes_;
  int phase_ = 0;  // 0 idle, 1 recording, 2 paused, 3 stopped
};

inline RecordingSessionFactory fake_sessions(FakeSessionLog* log, size_t chunk_bytes = 1000) {
  return [log, chunk_bytes](RecordingSessionConfig c) -> std::unique_ptr<RecordingSession> {
    return std::make_unique<FakeSession>(std::move(c), log, chunk_bytes);
  };
}

}  // namespace callrec::service::testing
