#include "callrec/service/recording_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "callrec/conversation_id.h"
#include "callrec/core/error.h"
#include "callrec/core/random_id.h"
#include "callrec/core/wall_clock.h"
#include "callrec/muxer/recovery.h"
#include "callrec/service/api_error.h"

namespace callrec::service {

namespace fs = std::filesystem;
using SysClock = std::chrono::system_clock;

namespace {

void write_json_atomically(const fs::path& path, const nlohmann::json& j) {
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    out.flush();
    if (!out) throw Error(tmp.string() + ": cannot write");
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(path.string() + ": cannot rename into place");
}

const char* state_name(RecordingState s) { return s == RecordingState::kActive ? "active" : "inactive"; }

[[noreturn]] void throw_status(const Status& s, const char* operation) {
  switch (s.code()) {
    case SessionErrc::kAlreadyPaused:
      throw ApiError(409, "RecordingAlreadyPaused", std::string(operation) + ": the recording is already paused");
    case SessionErrc::kNotPaused:
      throw ApiError(409, "RecordingNotPaused", std::string(operation) + ": the recording is not paused");
    case SessionErrc::kStopped:
      throw ApiError(409, "RecordingStopped", std::string(operation) + ": the recording has been stopped");
    case SessionErrc::kNotStarted:
      throw ApiError(409, "RecordingNotStarted", std::string(operation) + ": the recording has not started");
    case SessionErrc::kOutputFailed:
      throw ApiError(500, "RecordingFailed", std::string(operation) + ": " + s.message());
    default:
      throw ApiError(500, "InternalError", std::string(operation) + ": " + s.message());
  }
}

}  // namespace

std::string canonical_call_id(std::string_view raw, const char* target) {
  if (raw.empty() || raw.size() > 1024)
    throw ApiError(400, "InvalidCallId", "the call id must have 1 to 1024 characters", target);
  for (const char c : raw)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._~:@=+-").find(c) != std::string_view::npos))
      throw ApiError(400, "InvalidCallId", "the call id may only hold letters, digits and ._~:@=+-", target);
  if (const auto url = conversation_url_from_id(raw); url && url->find("://") != std::string::npos)
    return conversation_id_from_url(*url);
  return std::string(raw);
}

RecordingService::RecordingService(ServiceConfig config, RecordingSessionFactory sessions,
                                   std::shared_ptr<ParticipantMedia> media, EventOutbox& outbox, ChunkStore& store)
    : config_(std::move(config)), sessions_(std::move(sessions)), media_(std::move(media)), outbox_(outbox),
      store_(store) {
  std::error_code ec;
  fs::create_directories(recordings_dir(), ec);
  if (ec) throw Error(recordings_dir().string() + ": cannot create: " + ec.message());
}

RecordingService::~RecordingService() {
  {
    std::lock_guard lock(events_mu_);
    stopping_ = true;
  }
  events_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  // Sessions still running are stopped and finished by their destructors, outside mu_;
  // no participant's media reaches them from here on.
  std::vector<std::unique_ptr<RecordingSession>> sessions;
  {
    std::lock_guard lock(mu_);
    for (auto& [call_id, call] : calls_)
      for (auto& [pid, p] : call.participants)
        if (p.media) p.media->detach();
    for (auto& [id, r] : recordings_)
      if (r.session) sessions.push_back(std::move(r.session));
  }
  sessions.clear();
}

void RecordingService::start() {
  {
    std::lock_guard lock(mu_);
    recover_previous_run();
  }
  flush_outgoing();
  next_sweep_ = std::chrono::steady_clock::now();
  maintenance_ = std::thread([this] { maintenance_loop(); });
}

// ---- records ----

void RecordingService::write_record(const Recording& r) const {
  write_json_atomically(record_file(r.id), {{"recordingId", r.id},
                                            {"callId", r.call_id},
                                            {"recordingStateCallbackUri", r.callback_uri},
                                            {"repeatabilityRequestId", r.repeatability_id},
                                            {"startTime", r.start_time},
                                            {"finished", r.finished}});
}

void RecordingService::recover_previous_run() {
  std::vector<fs::path> records;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(recordings_dir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 12 && name.ends_with(".record.json") && name.front() != '.') records.push_back(entry.path());
  }
  std::sort(records.begin(), records.end());
  for (const auto& file : records) {
    Recording r;
    try {
      std::ifstream in(file);
      const auto j = nlohmann::json::parse(in);
      r.id = j.at("recordingId").get<std::string>();
      r.call_id = j.at("callId").get<std::string>();
      r.callback_uri = j.value("recordingStateCallbackUri", "");
      r.repeatability_id = j.value("repeatabilityRequestId", "");
      r.start_time = j.value("startTime", "");
      r.finished = j.value("finished", false);
    } catch (const std::exception& e) {
      std::cerr << "callrec serve: " << file.string() << ": unreadable recording record, skipped (" << e.what()
                << ")\n";
      continue;
    }
    if (!is_valid_document_id(r.id) || file.filename().string() != r.id + ".record.json") continue;
    r.out_dir = recordings_dir() / r.id;
    const auto parsed = parse_iso8601(r.start_time);
    r.started_at = parsed ? SysClock::time_point(std::chrono::microseconds(parsed->unix_us)) : SysClock::now();
    if (!r.finished) complete_interrupted(r);
    store_.scan_recording(r.id, r.out_dir);
    if (!r.repeatability_id.empty()) repeatability_[r.repeatability_id] = r.id;
    const std::string id = r.id;
    recordings_.emplace(id, std::move(r));
  }
}

// A recording whose session did not finish (the process was killed, or the session
// failed): callrec's crash recovery completes the interrupted chunk and writes
// recording.json; the recording is reported inactive and its events are sent.
void RecordingService::complete_interrupted(Recording& r) {
  std::optional<nlohmann::json> notification;
  try {
    notification = muxer::recover_recording(r.out_dir).notification;
  } catch (const std::exception& e) {
    std::cerr << "callrec serve: recording " << r.id << ": recovery failed: " << e.what() << "\n";
  }
  if (!notification) {
    // Finished on disk (recording.json written) before the process ended, or nothing
    // was ever written.
    std::error_code ec;
    const fs::path done = r.out_dir / "recording.json";
    if (fs::exists(done, ec)) {
      try {
        std::ifstream in(done);
        notification = nlohmann::json::parse(in);
      } catch (const std::exception&) {
      }
    }
  }
  if (notification) std::cerr << "callrec serve: recording " << r.id << " recovered after an interruption\n";
  r.finished = true;
  store_.scan_recording(r.id, r.out_dir);
  send_state_event(r, RecordingState::kInactive, "");
  if (notification) send_file_status(r, *notification);
  // Marked finished on disk only once its events are in the outbox (flush_outgoing).
  records_to_finish_.push_back(r.id);
}

// ---- control ----

RecordingService::Started RecordingService::start_recording(const StartOptions& o) {
  std::lock_guard lock(mu_);
  if (!o.repeatability_id.empty()) {
    if (const auto it = repeatability_.find(o.repeatability_id); it != repeatability_.end()) {
      const Recording& r = recordings_.at(it->second);
      if (r.call_id != o.call_id)
        throw ApiError(409, "RepeatabilityConflict",
                       "Repeatability-Request-ID was already used to start a recording of another call",
                       "Repeatability-Request-ID");
      return {r.id, r.session ? r.session->state() : RecordingState::kInactive};
    }
  }
  Call& call = calls_[o.call_id];
  if (call.recording_id)
    throw ApiError(409, "RecordingAlreadyActive",
                   "the call is being recorded already (recording " + *call.recording_id + ")", "callId");
  Recording r;
  r.id = random_uuid_v4();
  r.call_id = o.call_id;
  r.callback_uri = o.callback_uri;
  r.repeatability_id = o.repeatability_id;
  r.started_at = SysClock::now();
  r.start_time = format_iso8601(wall_clock_now());
  r.out_dir = recordings_dir() / r.id;
  std::error_code ec;
  fs::create_directories(r.out_dir, ec);
  if (ec) throw ApiError(500, "StorageFailed", "cannot create the recording's directory: " + ec.message());
  write_record(r);
  const std::string id = r.id;
  r.session = sessions_(RecordingSessionConfig{
      .out_dir = r.out_dir,
      .call_id = o.call_id,
      .resource_id = config_.resource_id,
      .recording_id = id,
      .max_chunk_bytes = config_.max_chunk_bytes,
      .on_event = [this, id](const SessionEvent& e) { queue_session_event(id, e); }});
  // Everyone already in the call is in the recording from its first instant.
  for (const auto& [pid, p] : call.participants) (void)r.session->join(pid, p.display_name);
  if (const Status s = r.session->start(o.operation_context); !s) {
    r.finished = true;
    write_record(r);
    throw ApiError(500, "RecordingFailed", "cannot start the recording: " + s.message());
  }
  if (o.pause_on_start) (void)r.session->pause(o.operation_context);
  for (auto& [pid, p] : call.participants)
    if (p.media) p.media->attach(*r.session);
  call.recording_id = id;
  if (!o.repeatability_id.empty()) repeatability_[o.repeatability_id] = id;
  const RecordingState state = r.session->state();
  recordings_.emplace(id, std::move(r));
  return {id, state};
}

RecordingService::Recording& RecordingService::find_recording(std::string_view id, const std::string* call_id) {
  const auto it = recordings_.find(id);
  if (it == recordings_.end() || (call_id && it->second.call_id != *call_id))
    throw ApiError(404, "RecordingNotFound", "no recording \"" + std::string(id.substr(0, 128)) + "\"" +
                                                 (call_id ? " in this conversation" : ""),
                   "recordingId");
  return it->second;
}

const RecordingService::Recording& RecordingService::find_recording(std::string_view id,
                                                                    const std::string* call_id) const {
  return const_cast<RecordingService*>(this)->find_recording(id, call_id);
}

RecordingState RecordingService::state(std::string_view id, const std::string* call_id) const {
  std::lock_guard lock(mu_);
  const Recording& r = find_recording(id, call_id);
  return r.session && !r.stop_requested ? r.session->state() : RecordingState::kInactive;
}

void RecordingService::control(std::string_view id, std::string_view context, const std::string* call_id,
                               const char* operation) {
  std::lock_guard lock(mu_);
  Recording& r = find_recording(id, call_id);
  if (!r.session || r.stop_requested)
    throw ApiError(409, "RecordingStopped", std::string(operation) + ": the recording has been stopped");
  const std::string_view op(operation);
  const Status s = op == "pause" ? r.session->pause(context) : op == "resume" ? r.session->resume(context)
                                                                               : r.session->stop(context);
  if (!s) throw_status(s, operation);
  if (op == "stop") {
    r.stop_requested = true;
    if (const auto it = calls_.find(r.call_id); it != calls_.end()) {
      Call& call = it->second;
      if (call.recording_id == r.id) call.recording_id.reset();
      for (auto& [pid, p] : call.participants)
        if (p.media) p.media->detach();
      if (call.participants.empty() && !call.recording_id) calls_.erase(it);
    }
  }
}

void RecordingService::pause(std::string_view id, std::string_view context, const std::string* call_id) {
  control(id, context, call_id, "pause");
}
void RecordingService::resume(std::string_view id, std::string_view context, const std::string* call_id) {
  control(id, context, call_id, "resume");
}
void RecordingService::stop(std::string_view id, std::string_view context, const std::string* call_id) {
  control(id, context, call_id, "stop");
}

nlohmann::json RecordingService::stats(std::string_view id) const {
  std::lock_guard lock(mu_);
  const Recording& r = find_recording(id, nullptr);
  nlohmann::json j = r.session ? r.session->stats() : nlohmann::json::object();
  j["recordingId"] = r.id;
  j["finished"] = r.finished;
  j["chunksStored"] = store_.count(r.id);
  return j;
}

ReportSource RecordingService::report_source(std::string_view id) const {
  std::lock_guard lock(mu_);
  const Recording& r = find_recording(id, nullptr);
  return {r.id, r.out_dir, !r.finished};
}

size_t RecordingService::running_recordings() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(
      std::count_if(recordings_.begin(), recordings_.end(), [](const auto& kv) { return kv.second.session != nullptr; }));
}

// ---- participants ----

std::string RecordingService::add_participant(const std::string& call_id, const std::string& participant_id,
                                              const std::string& display_name, std::string_view sdp_offer) {
  {
    std::lock_guard lock(mu_);
    if (const auto it = calls_.find(call_id); it != calls_.end() && it->second.participants.count(participant_id))
      throw ApiError(409, "ParticipantAlreadyInCall",
                     "participant \"" + participant_id + "\" is in the call already", "participantId");
  }
  // Declared before the lock: on an error below the link (its sockets) closes after the
  // lock is released.
  std::unique_ptr<MediaLink> link = media_->accept(call_id, participant_id, sdp_offer);
  std::lock_guard lock(mu_);
  Call& call = calls_[call_id];
  if (call.participants.count(participant_id))
    throw ApiError(409, "ParticipantAlreadyInCall", "participant \"" + participant_id + "\" is in the call already",
                   "participantId");
  if (call.recording_id) {
    Recording& r = recordings_.at(*call.recording_id);
    if (r.session) {
      if (const Status s = r.session->join(participant_id, display_name); !s)
        throw ApiError(500, "JoinFailed", "participant \"" + participant_id + "\" could not join the recording: " +
                                              s.message());
      link->attach(*r.session);
    }
  }
  std::string answer = link->answer_sdp();
  call.participants.emplace(participant_id, Participant{display_name, std::move(link)});
  return answer;
}

void RecordingService::remove_participant(const std::string& call_id, const std::string& participant_id) {
  std::unique_ptr<MediaLink> link;
  {
    std::lock_guard lock(mu_);
    const auto it = calls_.find(call_id);
    if (it == calls_.end()) throw ApiError(404, "CallNotFound", "no call \"" + call_id.substr(0, 128) + "\"", "callId");
    Call& call = it->second;
    const auto p = call.participants.find(participant_id);
    if (p == call.participants.end())
      throw ApiError(404, "ParticipantNotFound", "participant \"" + participant_id + "\" is not in the call",
                     "participantId");
    if (p->second.media) p->second.media->detach();
    if (call.recording_id) {
      Recording& r = recordings_.at(*call.recording_id);
      if (r.session) (void)r.session->leave(participant_id);
    }
    link = std::move(p->second.media);
    call.participants.erase(p);
    if (call.participants.empty() && !call.recording_id) calls_.erase(it);
  }
  // The link (its sockets) closes here, outside the lock.
}

// ---- events ----

void RecordingService::queue_session_event(const std::string& recording_id, const SessionEvent& e) {
  {
    std::lock_guard lock(events_mu_);
    events_.push_back(QueuedEvent{recording_id, e});
  }
  events_cv_.notify_all();
}

void RecordingService::send_state_event(const Recording& r, RecordingState state, std::string_view context) {
  if (r.callback_uri.empty()) return;
  const std::string now = format_iso8601(wall_clock_now());
  nlohmann::json data = {{"recordingId", r.id},
                         {"state", state_name(state)},
                         {"startDateTime", r.start_time},
                         {"serverCallId", r.call_id},
                         {"correlationId", r.id},
                         {"resultInformation", {{"code", 200}, {"subCode", 0}, {"message", ""}}}};
  if (!context.empty()) data["operationContext"] = std::string(context);
  const nlohmann::json event = {{"id", random_uuid_v4()},
                                {"source", "calling/recordings/" + r.id},
                                {"type", "Microsoft.Communication.RecordingStateChanged"},
                                {"data", data},
                                {"time", now},
                                {"specversion", "1.0"},
                                {"datacontenttype", "application/json"},
                                {"subject", "calling/recordings/" + r.id}};
  outgoing_.push_back(OutgoingEvent{r.callback_uri, nlohmann::json::array({event}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}});
}

void RecordingService::flush_outgoing() {
  std::vector<OutgoingEvent> events;
  std::vector<std::string> finished;
  {
    std::lock_guard lock(mu_);
    events.swap(outgoing_);
    finished.swap(records_to_finish_);
  }
  // Written (and fsync'd) outside mu_: routes are not held up by the disk.
  bool all_queued = true;
  for (auto& e : events) {
    try {
      outbox_.enqueue(std::move(e));
    } catch (const std::exception& ex) {
      all_queued = false;
      std::cerr << "callrec serve: cannot queue an event to " << e.target << ": " << ex.what() << "\n";
    }
  }
  // Only now are the finished recordings marked so on disk: killed before this point,
  // the next start finds them unfinished and sends their events again (at least once).
  // An event that could not be queued leaves them unfinished on disk for the same reason.
  if (!all_queued) return;
  std::lock_guard lock(mu_);
  for (const auto& id : finished) {
    const auto it = recordings_.find(id);
    if (it == recordings_.end()) continue;
    try {
      write_record(it->second);
    } catch (const std::exception& ex) {
      std::cerr << "callrec serve: recording " << id << ": " << ex.what() << "\n";
    }
  }
}

void RecordingService::send_file_status(const Recording& r, nlohmann::json notification) {
  try {
    auto& chunks = notification["data"]["recordingStorageInfo"]["recordingChunks"];
    if (chunks.is_array()) {
      for (auto& c : chunks) {
        const std::string doc = c.value("documentId", "");
        const std::string location = config_.public_base_url + "/recording/download/" + doc;
        c["contentLocation"] = location;
        c["metadataLocation"] = location + "/metadata";
        c["deleteLocation"] = location;
      }
    }
    notification["data"]["recordingId"] = r.id;
    const std::string body = nlohmann::json::array({notification}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const auto& hook : config_.webhooks)
      outgoing_.push_back(OutgoingEvent{hook, body, {{"aeg-event-type", "Notification"}}});
  } catch (const std::exception& ex) {
    std::cerr << "callrec serve: recording " << r.id << ": cannot queue its file status event: " << ex.what() << "\n";
  }
}

void RecordingService::finish_recording(Recording& r, const nlohmann::json& notification) {
  r.finished = true;
  // The chunks, whatever the chunk events said.
  store_.scan_recording(r.id, r.out_dir);
  send_file_status(r, notification);
  // Marked finished on disk only once its events are in the outbox (flush_outgoing).
  records_to_finish_.push_back(r.id);
  release_call(r);
}

void RecordingService::release_call(Recording& r) {
  if (const auto it = calls_.find(r.call_id); it != calls_.end()) {
    Call& call = it->second;
    if (call.recording_id == r.id) {
      call.recording_id.reset();
      for (auto& [pid, p] : call.participants)
        if (p.media) p.media->detach();
    }
    if (call.participants.empty() && !call.recording_id) calls_.erase(it);
  }
  finished_cv_.notify_all();
}

void RecordingService::handle(QueuedEvent& q, std::vector<std::unique_ptr<RecordingSession>>& to_destroy) {
  std::lock_guard lock(mu_);
  const auto it = recordings_.find(q.recording_id);
  if (it == recordings_.end()) return;
  Recording& r = it->second;
  const SessionEvent& e = q.event;
  switch (e.kind) {
    case SessionEventKind::kStateChanged:
      send_state_event(r, e.state, e.operation_context);
      break;
    case SessionEventKind::kChunkFinished:
      store_.add(r.id, r.out_dir, e.data.value("chunkDocumentId", ""), SysClock::now());
      break;
    case SessionEventKind::kRecordingFinished:
      if (r.session) to_destroy.push_back(std::move(r.session));
      finish_recording(r, e.data);
      break;
    case SessionEventKind::kKeyframeWanted:
      if (const auto c = calls_.find(r.call_id); c != calls_.end() && c->second.recording_id == r.id)
        if (const auto p = c->second.participants.find(e.participant_id);
            p != c->second.participants.end() && p->second.media)
          p->second.media->keyframe_wanted(e.track);
      break;
    case SessionEventKind::kError: {
      std::cerr << "callrec serve: recording " << r.id << " failed: " << e.message << "\n";
      // The session is destroyed below: its participants' media stop reaching it first.
      if (const auto c = calls_.find(r.call_id); c != calls_.end() && c->second.recording_id == r.id)
        for (auto& [pid, p] : c->second.participants)
          if (p.media) p.media->detach();
      // What was written is completed as after a crash, once the session is gone (its
      // files closed): see maintenance_loop().
      if (r.session) to_destroy.push_back(std::move(r.session));
      r.stop_requested = true;
      break;
    }
  }
}

void RecordingService::maintenance_loop() {
  for (;;) {
    std::deque<QueuedEvent> batch;
    {
      std::unique_lock lock(events_mu_);
      events_cv_.wait_until(lock, next_sweep_, [&] { return stopping_ || !events_.empty(); });
      if (stopping_ && events_.empty()) return;
      batch.swap(events_);
    }
    std::vector<std::unique_ptr<RecordingSession>> to_destroy;
    std::vector<std::string> failed;
    for (auto& q : batch) {
      const bool error = q.event.kind == SessionEventKind::kError;
      handle(q, to_destroy);
      if (error) failed.push_back(q.recording_id);
    }
    to_destroy.clear();  // sessions end here, outside mu_
    for (const auto& id : failed) {
      std::lock_guard lock(mu_);
      if (const auto it = recordings_.find(id); it != recordings_.end() && !it->second.finished) {
        complete_interrupted(it->second);
        release_call(it->second);
      }
    }
    flush_outgoing();
    if (std::chrono::steady_clock::now() >= next_sweep_) {
      sweep();
      next_sweep_ = std::chrono::steady_clock::now() + config_.sweep_interval;
    }
  }
}

void RecordingService::sweep() {
  const auto now = SysClock::now();
  store_.sweep(now);
  // A finished recording whose chunks are all gone, past the retention time, goes too.
  std::vector<fs::path> doomed;
  {
    std::lock_guard lock(mu_);
    for (auto it = recordings_.begin(); it != recordings_.end();) {
      const Recording& r = it->second;
      if (r.finished && !r.session && now - r.started_at >= config_.retention && store_.count(r.id) == 0) {
        doomed.push_back(r.out_dir);
        doomed.push_back(record_file(r.id));
        if (!r.repeatability_id.empty()) repeatability_.erase(r.repeatability_id);
        it = recordings_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& p : doomed) {
    std::error_code ec;
    fs::remove_all(p, ec);
  }
}

void RecordingService::shutdown(std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(mu_);
    for (auto& [id, r] : recordings_) {
      if (r.session && !r.stop_requested) {
        (void)r.session->stop("ServiceShutdown");
        r.stop_requested = true;
      }
    }
    finished_cv_.wait_for(lock, timeout, [&] {
      return std::none_of(recordings_.begin(), recordings_.end(),
                          [](const auto& kv) { return kv.second.session != nullptr; });
    });
  }
  // The finished recordings' events, in the outbox before this returns.
  flush_outgoing();
}

}  // namespace callrec::service
