// Durable, at-least-once event delivery.
//
// enqueue() writes the event to a file in the outbox directory (to a temporary name,
// fsync'd, renamed: a crash leaves either the whole event or nothing) before it returns;
// a delivery thread POSTs it and deletes the file only once the target answered 2xx.
// Events to one target go out in the order they were enqueued: the next waits while the
// first is retried. Failures are retried with exponential backoff (`first_retry`
// doubling up to `max_retry`); an answer that retrying cannot change (a 4xx other than
// 408/429, or a redirect, which is never followed) or `max_attempts` failures move the
// event to outbox/failed/ and it is logged. Events left on disk by a previous run are
// delivered after a restart.
//
// Threading: enqueue() from any thread; one delivery thread, started by start() and
// ended by the destructor (an attempt in flight ends within its timeout).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace callrec::service {

struct OutboxConfig {
  std::filesystem::path dir;
  std::chrono::milliseconds first_retry{500};
  std::chrono::milliseconds max_retry{60'000};
  int max_attempts = 40;  // about half an hour at the default backoff
  std::chrono::milliseconds timeout{10'000};
};

struct OutgoingEvent {
  std::string target;  // http(s) URL
  std::string body;    // JSON
  std::vector<std::pair<std::string, std::string>> headers;
};

// Sends one event; returns the HTTP status (0 when none came) and an error text.
using EventSender = std::function<std::pair<int, std::string>(const OutgoingEvent&, std::chrono::milliseconds timeout)>;

// The real sender: http_post().
EventSender http_event_sender();

class EventOutbox {
 public:
  EventOutbox(OutboxConfig config, EventSender sender);
  ~EventOutbox();
  EventOutbox(const EventOutbox&) = delete;
  EventOutbox& operator=(const EventOutbox&) = delete;

  // Loads what a previous run left and starts delivering.
  void start();
  // Durably queues the event (throws callrec::Error when it cannot be written).
  void enqueue(OutgoingEvent event);
  // Waits until nothing is pending or `timeout` passed; true when nothing is pending.
  bool drain(std::chrono::milliseconds timeout);
  size_t pending() const;
  size_t delivered() const;

 private:
  struct Item {
    uint64_t seq;
    std::filesystem::path file;
    OutgoingEvent event;
    int attempts = 0;
    std::chrono::steady_clock::time_point due;
  };
  void run();
  void load_existing();
  void dead_letter(const Item& item, const std::string& why);

  const OutboxConfig config_;
  const EventSender sender_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, std::deque<Item>> queues_;  // by target, guarded by mu_
  uint64_t next_seq_ = 1;                           // guarded by mu_
  size_t delivered_ = 0;                            // guarded by mu_
  bool stopping_ = false;                           // guarded by mu_
  std::thread thread_;
};

}  // namespace callrec::service
