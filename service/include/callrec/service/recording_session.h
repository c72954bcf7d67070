// The seam between the service and the engine: one live recording as the service drives
// it. The real one (make_engine_session) is a callrec::Session, used only through the
// public embedding API (callrec/session.h); tests and the fuzzer use light fakes.
//
// Threading: every method may be called from any thread. Events arrive through the
// callback given at creation, on a thread of the session, never from inside a call of
// this interface... except for fakes, which the service tolerates: its callback only
// queues the event.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "callrec/session.h"

namespace callrec::service {

class RecordingSession {
 public:
  virtual ~RecordingSession() = default;
  virtual Status start(std::string_view operation_context) = 0;
  virtual Status pause(std::string_view operation_context) = 0;
  virtual Status resume(std::string_view operation_context) = 0;
  virtual Status stop(std::string_view operation_context) = 0;
  virtual RecordingState state() const = 0;
  virtual Status join(std::string_view participant_id, std::string_view display_name) = 0;
  virtual Status leave(std::string_view participant_id) = 0;
  // The engine's counters (SessionStats) as JSON.
  virtual nlohmann::json stats() const = 0;
  // The engine session itself, for the media path (RtpMedia pushes the participants' RTP into it);
  // nullptr for fakes.
  virtual Session* engine_session() { return nullptr; }
};

struct RecordingSessionConfig {
  std::filesystem::path out_dir;
  std::string call_id;
  std::string resource_id;
  std::string recording_id;
  uint64_t max_chunk_bytes = 512ULL * 1024 * 1024;
  std::function<void(const SessionEvent&)> on_event;
};

using RecordingSessionFactory = std::function<std::unique_ptr<RecordingSession>(RecordingSessionConfig)>;

// callrec::Session behind the interface.
std::unique_ptr<RecordingSession> make_engine_session(RecordingSessionConfig config);

}  // namespace callrec::service
