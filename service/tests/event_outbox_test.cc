// EventOutbox: at-least-once delivery with a sender that fails on purpose.
#include "callrec/service/event_outbox.h"

#include <gtest/gtest.h>

#include <random>

namespace callrec::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Script {
  std::mutex mu;
  std::vector<int> statuses;  // answers in order; 200 after they run out
  std::vector<std::string> attempts;  // bodies, in the order tried
  size_t next = 0;
};

EventSender scripted(Script& s) {
  return [&s](const OutgoingEvent& e, std::chrono::milliseconds) {
    std::lock_guard lock(s.mu);
    s.attempts.push_back(e.target + " " + e.body);
    const int status = s.next < s.statuses.size() ? s.statuses[s.next] : 200;
    ++s.next;
    return std::pair<int, std::string>(status, status ? "" : "connection refused");
  };
}

fs::path fresh() {
  const fs::path d = fs::temp_directory_path() / ("callrec_outbox_test_" + std::to_string(std::random_device()()));
  fs::remove_all(d);
  return d;
}

size_t files_in(const fs::path& d) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(d))
    if (e.is_regular_file()) ++n;
  return n;
}

TEST(EventOutbox, RetriesWithBackoffAndKeepsOrderPerTarget) {
  const fs::path dir = fresh();
  Script s;
  s.statuses = {0, 503, 500};  // no answer, then two server errors, then 200s
  {
    EventOutbox outbox({.dir = dir, .first_retry = 5ms, .max_retry = 20ms}, scripted(s));
    outbox.start();
    outbox.enqueue({"http://a/", "1", {}});
    outbox.enqueue({"http://a/", "2", {}});
    ASSERT_TRUE(outbox.drain(5s));
    EXPECT_EQ(outbox.delivered(), 2u);
  }
  EXPECT_EQ(s.attempts, (std::vector<std::string>{"http://a/ 1", "http://a/ 1", "http://a/ 1", "http://a/ 1",
                                                  "http://a/ 2"}))
      << "event 2 waits until event 1 is delivered";
  EXPECT_EQ(files_in(dir), 0u) << "delivered events leave no file";
  fs::remove_all(dir);
}

TEST(EventOutbox, UndeliveredEventsSurviveARestart) {
  const fs::path dir = fresh();
  Script down;
  down.statuses = std::vector<int>(1000, 0);  // the target is down the whole first run
  {
    EventOutbox outbox({.dir = dir, .first_retry = 1ms, .max_retry = 5ms}, scripted(down));
    outbox.start();
    outbox.enqueue({"http://a/", "first", {{"aeg-event-type", "Notification"}}});
    outbox.enqueue({"http://b/", "second", {}});
    EXPECT_FALSE(outbox.drain(100ms));
  }
  EXPECT_EQ(files_in(dir), 2u) << "kept on disk";
  Script up;
  {
    EventOutbox outbox({.dir = dir}, scripted(up));
    outbox.start();
    ASSERT_TRUE(outbox.drain(5s));
    outbox.enqueue({"http://a/", "third", {}});
    ASSERT_TRUE(outbox.drain(5s));
  }
  std::sort(up.attempts.begin(), up.attempts.end());
  EXPECT_EQ(up.attempts, (std::vector<std::string>{"http://a/ first", "http://a/ third", "http://b/ second"}));
  fs::remove_all(dir);
}

TEST(EventOutbox, GivesUpOnAnswersRetryingCannotChange) {
  const fs::path dir = fresh();
  Script s;
  s.statuses = {400, 301, 0, 0, 0};
  {
    EventOutbox outbox({.dir = dir, .first_retry = 1ms, .max_retry = 2ms, .max_attempts = 3}, scripted(s));
    outbox.start();
    outbox.enqueue({"http://a/", "refused", {}});
    outbox.enqueue({"http://b/", "redirected", {}});
    outbox.enqueue({"http://c/", "unreachable", {}});
    ASSERT_TRUE(outbox.drain(5s));
    EXPECT_EQ(outbox.delivered(), 0u);
  }
  EXPECT_EQ(files_in(dir / "failed"), 3u) << "kept aside in failed/";
  EXPECT_EQ(files_in(dir), 0u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace callrec::service
