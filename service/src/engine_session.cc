// RecordingSession over callrec::Session (the public embedding API only).
#include "callrec/service/recording_session.h"

namespace callrec::service {

namespace {

class EngineSession final : public RecordingSession {
 public:
  explicit EngineSession(SessionConfig config) : session_(std::move(config)) {}
  Status start(std::string_view context) override { return session_.start(context).status; }
  Status pause(std::string_view context) override { return session_.pause(context); }
  Status resume(std::string_view context) override { return session_.resume(context); }
  Status stop(std::string_view context) override { return session_.stop(context); }
  RecordingState state() const override { return session_.state(); }
  Status join(std::string_view id, std::string_view name) override { return session_.join(id, name); }
  Status leave(std::string_view id) override { return session_.leave(id); }
  nlohmann::json stats() const override {
    const SessionStats s = session_.stats();
    return {{"periodsWritten", s.periods_written},
            {"periodsLate", s.periods_late},
            {"maxOutputLagMs", s.max_output_lag_ms},
            {"mediaDroppedQueueFull", s.media_dropped_queue_full},
            {"videoFramesDroppedLate", s.video_frames_dropped_late},
            {"videoDecodeErrors", s.video_decode_errors},
            {"outputThreadCpuSeconds", s.output_thread_cpu_s}};
  }
  Session* engine_session() override { return &session_; }

 private:
  Session session_;
};

}  // namespace

std::unique_ptr<RecordingSession> make_engine_session(RecordingSessionConfig c) {
  SessionConfig config;
  config.out_dir = std::move(c.out_dir);
  config.call_id = std::move(c.call_id);
  config.resource_id = std::move(c.resource_id);
  config.recording_id = std::move(c.recording_id);
  config.max_chunk_bytes = c.max_chunk_bytes;
  config.on_event = std::move(c.on_event);
  return std::make_unique<EngineSession>(std::move(config));
}

}  // namespace callrec::service
