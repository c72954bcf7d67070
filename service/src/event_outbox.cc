#include "callrec/service/event_outbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "callrec/core/error.h"
#include "callrec/service/http_client.h"

namespace callrec::service {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Writes `text` to `path` atomically: a temporary name, fsync, rename, fsync of the folder.
void write_durably(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(tmp.string() + ": cannot create the event file");
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(tmp.string() + ": cannot write the event file");
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw Error(path.string() + ": cannot store the event file");
  }
  const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

nlohmann::json to_json(const OutgoingEvent& e) {
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& [k, v] : e.headers) headers.push_back({k, v});
  return {{"target", e.target}, {"body", e.body}, {"headers", headers}};
}

std::string seq_name(uint64_t seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llu.json", static_cast<unsigned long long>(seq));
  return name;
}

}  // namespace

EventSender http_event_sender() {
  return [](const OutgoingEvent& e, std::chrono::milliseconds timeout) -> std::pair<int, std::string> {
    std::string why;
    const auto url = parse_http_url(e.target, &why);
    if (!url) return {0, why};
    const PostResult r = http_post(*url, e.body, e.headers, timeout);
    return {r.status, r.error};
  };
}

EventOutbox::EventOutbox(OutboxConfig config, EventSender sender)
    : config_(std::move(config)), sender_(std::move(sender)) {
  std::error_code ec;
  fs::create_directories(config_.dir / "failed", ec);
  if (ec) throw Error(config_.dir.string() + ": cannot create the event outbox: " + ec.message());
}

EventOutbox::~EventOutbox() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventOutbox::load_existing() {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(config_.dir, ec)) {
    const fs::path& p = entry.path();
    if (p.extension() == ".json" && p.filename().string().front() != '.') files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  std::lock_guard lock(mu_);
  for (const auto& p : files) {
    try {
      std::ifstream in(p);
      const auto j = nlohmann::json::parse(in);
      OutgoingEvent e{j.at("target").get<std::string>(), j.at("body").get<std::string>(), {}};
      for (const auto& h : j.value("headers", nlohmann::json::array()))
        e.headers.emplace_back(h.at(0).get<std::string>(), h.at(1).get<std::string>());
      const uint64_t seq = std::stoull(p.stem().string());
      next_seq_ = std::max(next_seq_, seq + 1);
      queues_[e.target].push_back(Item{seq, p, std::move(e), 0, Clock::now()});
    } catch (const std::exception& ex) {
      std::cerr << "callrec serve: " << p.string() << ": unreadable event file, moved to failed/ (" << ex.what()
                << ")\n";
      fs::rename(p, config_.dir / "failed" / p.filename(), ec);
    }
  }
}

void EventOutbox::start() {
  load_existing();
  thread_ = std::thread([this] { run(); });
}

void EventOutbox::enqueue(OutgoingEvent event) {
  std::unique_lock lock(mu_);
  const uint64_t seq = next_seq_++;
  const fs::path file = config_.dir / seq_name(seq);
  // Written under the lock so files are named in enqueue order.
  write_durably(file, to_json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  const std::string target = event.target;
  queues_[target].push_back(Item{seq, file, std::move(event), 0, Clock::now()});
  lock.unlock();
  wake_.notify_all();
}

size_t EventOutbox::pending() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [t, q] : queues_) n += q.size();
  return n;
}

size_t EventOutbox::delivered() const {
  std::lock_guard lock(mu_);
  return delivered_;
}

bool EventOutbox::drain(std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (pending() > 0) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void EventOutbox::dead_letter(const Item& item, const std::string& why) {
  std::cerr << "callrec serve: event to " << item.event.target << " given up after " << item.attempts
            << " attempt(s): " << why << "; kept in " << (config_.dir / "failed").string() << "\n";
  std::error_code ec;
  fs::rename(item.file, config_.dir / "failed" / item.file.filename(), ec);
}

void EventOutbox::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // The earliest due head of any target's queue.
    std::optional<std::string> target;
    Clock::time_point due = Clock::time_point::max();
    for (const auto& [t, q] : queues_) {
      if (!q.empty() && q.front().due < due) {
        due = q.front().due;
        target = t;
      }
    }
    if (!target) {
      wake_.wait(lock);
      continue;
    }
    if (due > Clock::now()) {
      wake_.wait_until(lock, due);
      continue;
    }
    Item item = queues_[*target].front();
    lock.unlock();
    const auto [status, error] = sender_(item.event, config_.timeout);
    lock.lock();
    auto& q = queues_[*target];
    if (q.empty() || q.front().seq != item.seq) continue;  // cannot happen: one delivery thread
    Item& head = q.front();
    ++head.attempts;
    const bool delivered = status >= 200 && status < 300;
    const bool permanent = (status >= 300 && status < 500 && status != 408 && status != 429);
    if (delivered) {
      std::error_code ec;
      fs::remove(head.file, ec);
      ++delivered_;
      q.pop_front();
    } else if (permanent || head.attempts >= config_.max_attempts) {
      dead_letter(head, status ? "HTTP " + std::to_string(status) : error);
      q.pop_front();
    } else {
      auto backoff = config_.first_retry * (1LL << std::min(head.attempts - 1, 20));
      if (backoff > config_.max_retry) backoff = config_.max_retry;
      head.due = Clock::now() + backoff;
    }
    if (q.empty()) queues_.erase(*target);
  }
}

}  // namespace callrec::service
