// The recording service's state and behaviour, without HTTP: calls and their
// participants, the recordings of calls (one engine session each), the chunks they
// write, the events they cause, and what survives a restart.
//
// Storage layout under `storage`:
//   recordings/<recordingId>/              the session's output directory (chunks,
//                                          metadata, recording.json)
//   recordings/<recordingId>.record.json   the service's record of the recording
//   outbox/                                events not yet delivered (EventOutbox)
//
// Events. The engine's state changes become RecordingStateChanged events to the
// recording's callback; the end of a recording becomes one RecordingFileStatusUpdated
// Event Grid event to every webhook, each chunk with its download locations. A session's
// callback only queues what it reports; the service's maintenance thread turns it into
// outgoing events, lists chunks, finishes ended sessions and sweeps expired chunks.
//
// Restart. start() finds every recording whose record is not marked finished (the
// previous process was killed), completes it with callrec's crash recovery, reports it
// inactive and sends its events.
//
// Threading: every public method may be called from any thread. `mu_` guards calls and
// recordings; session methods are called under it (they return at once and never call
// back into the service), but sessions are destroyed outside it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "callrec/service/chunk_store.h"
#include "callrec/service/event_outbox.h"
#include "callrec/service/participant_media.h"
#include "callrec/service/recording_session.h"
#include "callrec/service/report_pages.h"

namespace callrec::service {

struct ServiceConfig {
  std::filesystem::path storage;
  // Where clients reach the service ("https://host:port"): the events' download
  // locations start with it.
  std::string public_base_url;
  std::vector<std::string> webhooks;
  std::chrono::seconds retention = std::chrono::hours(48);
  uint64_t max_chunk_bytes = 512ULL * 1024 * 1024;
  std::string resource_id;
  std::chrono::milliseconds sweep_interval{60'000};
};

// A call id as routes give it (a server call id, a conversationId, a group call id):
// 1-1024 of [A-Za-z0-9._~:@=+-]. A Base64Url conversationId is reduced to its unpadded
// form, so padded and unpadded spellings name the same call. Throws ApiError (400).
std::string canonical_call_id(std::string_view raw, const char* target);

class RecordingService {
 public:
  RecordingService(ServiceConfig config, RecordingSessionFactory sessions, std::shared_ptr<ParticipantMedia> media,
                   EventOutbox& outbox, ChunkStore& store);
  ~RecordingService();
  RecordingService(const RecordingService&) = delete;
  RecordingService& operator=(const RecordingService&) = delete;

  // Recovers what a previous process left, lists stored chunks, starts the maintenance
  // thread.
  void start();

  struct StartOptions {
    std::string call_id;  // canonical
    std::string callback_uri;
    std::string operation_context;
    std::string repeatability_id;  // "" when the request had none
    bool pause_on_start = false;
  };
  struct Started {
    std::string recording_id;
    RecordingState state;
  };
  // Errors are thrown as ApiError: 409 when the call is being recorded already.
  Started start_recording(const StartOptions& options);
  // `call_id`, when given (the reference routes name the call), must be the recording's.
  RecordingState state(std::string_view recording_id, const std::string* call_id = nullptr) const;
  void pause(std::string_view recording_id, std::string_view operation_context, const std::string* call_id = nullptr);
  void resume(std::string_view recording_id, std::string_view operation_context, const std::string* call_id = nullptr);
  void stop(std::string_view recording_id, std::string_view operation_context, const std::string* call_id = nullptr);
  nlohmann::json stats(std::string_view recording_id) const;
  // Where the recording's report is made from (404 when the recording is unknown).
  ReportSource report_source(std::string_view recording_id) const;

  // Returns the SDP answer. 409 when the participant is in the call already.
  std::string add_participant(const std::string& call_id, const std::string& participant_id,
                              const std::string& display_name, std::string_view sdp_offer);
  void remove_participant(const std::string& call_id, const std::string& participant_id);

  std::optional<StoredChunk> find_chunk(std::string_view document_id) const { return store_.find(document_id); }
  bool delete_chunk(std::string_view document_id) { return store_.remove(document_id); }

  // SIGTERM: stops every running recording and waits (up to `timeout`) until each has
  // written its last chunk and its events are queued.
  void shutdown(std::chrono::milliseconds timeout);
  size_t running_recordings() const;

 private:
  struct Participant {
    std::string display_name;
    std::unique_ptr<MediaLink> media;
  };
  struct Call {
    std::map<std::string, Participant> participants;
    std::optional<std::string> recording_id;  // the running recording, if any
  };
  struct Recording {
    std::string id;
    std::string call_id;
    std::string callback_uri;
    std::string repeatability_id;
    std::string start_time;  // ISO 8601
    std::chrono::system_clock::time_point started_at;
    std::filesystem::path out_dir;
    std::unique_ptr<RecordingSession> session;  // until the session has finished
    bool stop_requested = false;
    bool finished = false;
  };
  struct QueuedEvent {
    std::string recording_id;
    SessionEvent event;
  };

  std::filesystem::path recordings_dir() const { return config_.storage / "recordings"; }
  std::filesystem::path record_file(const std::string& id) const { return recordings_dir() / (id + ".record.json"); }
  void write_record(const Recording& r) const;
  Recording& find_recording(std::string_view id, const std::string* call_id);
  const Recording& find_recording(std::string_view id, const std::string* call_id) const;
  void control(std::string_view id, std::string_view context, const std::string* call_id, const char* operation);

  void queue_session_event(const std::string& recording_id, const SessionEvent& e);
  void maintenance_loop();
  void handle(QueuedEvent& e, std::vector<std::unique_ptr<RecordingSession>>& to_destroy);
  void finish_recording(Recording& r, const nlohmann::json& notification);
  void release_call(Recording& r);
  void recover_previous_run();
  void complete_interrupted(Recording& r);
  void send_state_event(const Recording& r, RecordingState state, std::string_view operation_context);
  void send_file_status(const Recording& r, nlohmann::json notification);
  void sweep();
  // Hands the events made under mu_ to the outbox, outside mu_, then marks the
  // recordings that caused them finished on disk.
  void flush_outgoing();

  const ServiceConfig config_;
  const RecordingSessionFactory sessions_;
  const std::shared_ptr<ParticipantMedia> media_;
  EventOutbox& outbox_;
  ChunkStore& store_;

  mutable std::mutex mu_;
  std::condition_variable finished_cv_;                              // a recording finished
  std::map<std::string, Call, std::less<>> calls_;                   // guarded by mu_
  std::map<std::string, Recording, std::less<>> recordings_;         // guarded by mu_
  std::map<std::string, std::string, std::less<>> repeatability_;    // guarded by mu_
  std::vector<OutgoingEvent> outgoing_;                              // guarded by mu_
  // Recordings finished in memory whose record is written finished once their events
  // are in the outbox (flush_outgoing): a kill in between must not lose the events.
  std::vector<std::string> records_to_finish_;                       // guarded by mu_

  std::mutex events_mu_;
  std::condition_variable events_cv_;
  std::deque<QueuedEvent> events_;  // guarded by events_mu_
  bool stopping_ = false;           // guarded by events_mu_
  std::chrono::steady_clock::time_point next_sweep_;
  std::thread maintenance_;
};

}  // namespace callrec::service
