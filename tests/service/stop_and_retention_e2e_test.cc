// SIGTERM stops every running recording cleanly, from the moment the service listens;
// chunks expire after --retention.
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

#include "callrec/conversation_id.h"
#include "decoded_media.h"
#include "service_process.h"

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const char* kApi = "?api-version=2023-10-15";

std::string start(int port, const std::string& key, const std::string& url) {
  const HttpResult r = signed_request(
      port, key, "POST", std::string("/calling/recordings") + kApi,
      json{{"callLocator", {{"kind", "serverCallLocator"}, {"serverCallId", conversation_id_from_url(url)}}}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body).value("recordingId", "");
}

TEST(ServiceStop, SigtermStopsEveryRecordingCleanlyAndDeliversTheirEvents) {
  const fs::path dir = fresh_dir("callrec_service_sigterm");
  const std::string key = write_access_key(dir / "key");
  EventReceiver hooks;
  const std::vector<std::string> args = {"--storage", (dir / "storage").string(), "--access-key-file",
                                         (dir / "key").string(), "--event-webhook", hooks.url()};
  std::vector<std::string> ids;
  {
    ServiceProcess service(CALLREC_BINARY, args);
    ids.push_back(start(service.port(), key, "https://conversations.example/sigterm/1"));
    ids.push_back(start(service.port(), key, "https://conversations.example/sigterm/2"));
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(service.stop(SIGTERM), 0) << service.err();
    EXPECT_NE(service.err().find("stopping 2 recording(s)"), std::string::npos) << service.err();
  }
  ASSERT_EQ(hooks.bodies().size(), 2u) << "both file status events delivered before the exit";
  for (const auto& id : ids) {
    const json done = read_json(dir / "storage" / "recordings" / id / "recording.json");
    EXPECT_EQ(done["data"]["sessionEndReason"], "RecordingStopped") << id;
    EXPECT_GE(done["data"]["recordingDurationMs"].get<int64_t>(), 1500) << id;
    EXPECT_TRUE(read_json(dir / "storage" / "recordings" / (id + ".record.json"))["finished"].get<bool>());
  }
  // A restart finds nothing to recover and sends nothing again.
  ServiceProcess again(CALLREC_BINARY, args);
  for (const auto& id : ids)
    EXPECT_EQ(json::parse(signed_request(again.port(), key, "GET", "/calling/recordings/" + id + kApi).body)["recordingState"],
              "inactive");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(hooks.bodies().size(), 2u);
  EXPECT_EQ(again.err().find("recovered"), std::string::npos) << again.err();
  EXPECT_EQ(again.stop(SIGTERM), 0);
}

// A supervisor may stop the service the moment it says it listens: still a clean stop
// (the signal was once caught only after that line, and the first SIGTERM killed it).
TEST(ServiceStop, SigtermRightAfterListeningIsACleanStop) {
  const fs::path dir = fresh_dir("callrec_service_sigterm_at_start");
  write_access_key(dir / "key");
  for (int attempt = 0; attempt < 5; ++attempt) {
    ServiceProcess service(CALLREC_BINARY,
                           {"--storage", (dir / "storage").string(), "--access-key-file", (dir / "key").string()});
    EXPECT_EQ(service.stop(SIGTERM), 0) << "attempt " << attempt << ": " << service.err();
  }
}

TEST(ServiceRetention, ChunksAnswer404AfterTheRetentionTime) {
  const fs::path dir = fresh_dir("callrec_service_retention");
  const std::string key = write_access_key(dir / "key");
  EventReceiver hooks;
  ServiceProcess service(CALLREC_BINARY, {"--storage", (dir / "storage").string(), "--access-key-file",
                                          (dir / "key").string(), "--event-webhook", hooks.url(), "--retention", "4s"});
  const std::string id = start(service.port(), key, "https://conversations.example/retention");
  std::this_thread::sleep_for(1s);
  ASSERT_EQ(signed_request(service.port(), key, "DELETE", "/calling/recordings/" + id + kApi).status, 204);
  ASSERT_TRUE(hooks.wait_for(1, 30s));
  const auto finished = std::chrono::steady_clock::now();
  const std::string doc = json::parse(hooks.bodies()[0])[0]["data"]["recordingStorageInfo"]["recordingChunks"][0]["documentId"];
  EXPECT_EQ(signed_request(service.port(), key, "GET", "/recording/download/" + doc).status, 200) << "kept for now";
  int status = 200;
  while (status == 200 && std::chrono::steady_clock::now() - finished < 20s) {
    std::this_thread::sleep_for(200ms);
    status = signed_request(service.port(), key, "GET", "/recording/download/" + doc).status;
  }
  const double after_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - finished).count();
  EXPECT_EQ(status, 404);
  EXPECT_GE(after_s, 2.5) << "not before the retention time (4 s from the chunk's end)";
  EXPECT_FALSE(fs::exists(dir / "storage" / "recordings" / id / (doc + ".mp4")));
  // The recording itself is forgotten once its chunks are gone and it is past retention.
  for (int i = 0; i < 100 && signed_request(service.port(), key, "GET", "/calling/recordings/" + id + kApi).status != 404; ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(signed_request(service.port(), key, "GET", "/calling/recordings/" + id + kApi).status, 404);
  EXPECT_FALSE(fs::exists(dir / "storage" / "recordings" / id));
  EXPECT_EQ(service.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace callrec::testing
