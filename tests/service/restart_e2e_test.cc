// Crash and restart: `callrec serve` is SIGKILLed while it records; the next start
// completes the interrupted recording (callrec's crash recovery), reports it inactive,
// serves its chunks and delivers every event — including one that could not be
// delivered before the kill (the webhook was down) and was kept on disk.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <thread>

#include "callrec/conversation_id.h"
#include "contract_checks.h"
#include "decoded_media.h"
#include "service_process.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const char* kApi = "?api-version=2023-10-15";

std::string start_recording(int port, const std::string& key, const std::string& call, const std::string& callback) {
  const HttpResult r = signed_request(port, key, "POST", std::string("/calling/recordings") + kApi,
                                      json{{"callLocator", {{"kind", "serverCallLocator"}, {"serverCallId", call}}},
                                           {"recordingStateCallbackUri", callback}}
                                          .dump());
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body).value("recordingId", "");
}

void join(int port, const std::string& key, const std::string& call, const std::string& id) {
  const HttpResult r = signed_request(port, key, "POST", "/calling/calls/" + call + "/participants",
                                      json{{"participantId", id}, {"displayName", id}, {"sdp", loopback_offer(true, false)}}.dump());
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST(ServiceRestart, AfterSigkillTheInterruptedRecordingIsRecoveredServedAndReported) {
  av_log_set_level(AV_LOG_ERROR);
  const fs::path dir = fresh_dir("callrec_service_restart");
  const std::string key = write_access_key(dir / "key");
  EventReceiver hooks;
  EventReceiver callbacks;
  hooks.refuse(503);  // the webhook is down for the whole first run
  const std::vector<std::string> args = {"--storage", (dir / "storage").string(), "--access-key-file",
                                         (dir / "key").string(), "--event-webhook", hooks.url(),
                                         "--max-chunk-bytes", "65536"};
  const std::string call_a = conversation_id_from_url("https://conversations.example/conversations/a");
  const std::string call_b = conversation_id_from_url("https://conversations.example/conversations/b");
  std::string finished_id;
  std::string killed_id;
  {
    ServiceProcess first(CALLREC_BINARY, args);
    join(first.port(), key, call_a, "8:acs:ada");
    finished_id = start_recording(first.port(), key, call_a, callbacks.url());
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(signed_request(first.port(), key, "DELETE", "/calling/recordings/" + finished_id + kApi).status, 204);
    join(first.port(), key, call_b, "8:acs:bob");
    join(first.port(), key, call_b, "8:acs:carol");
    killed_id = start_recording(first.port(), key, call_b, callbacks.url());
    std::this_thread::sleep_for(3000ms);
    ASSERT_EQ(json::parse(signed_request(first.port(), key, "GET", "/calling/recordings/" + killed_id + kApi).body)
                  .value("recordingState", ""),
              "active");
    // The first recording's file status event is waiting for the webhook.
    for (int i = 0; i < 600 && !fs::exists(dir / "storage" / "recordings" / finished_id / "recording.json"); ++i)
      std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(fs::exists(dir / "storage" / "recordings" / finished_id / "recording.json"))
        << "the stopped recording did not finish within 30 s";
    EXPECT_EQ(first.stop(SIGKILL), -SIGKILL);
  }
  EXPECT_FALSE(fs::exists(dir / "storage" / "recordings" / killed_id / "recording.json")) << "killed mid-recording";
  EXPECT_TRUE(hooks.bodies().empty());

  hooks.refuse(0);
  ServiceProcess second(CALLREC_BINARY, args);
  const HttpResult state = signed_request(second.port(), key, "GET", "/calling/recordings/" + killed_id + kApi);
  ASSERT_EQ(state.status, 200) << state.body;
  EXPECT_EQ(json::parse(state.body)["recordingState"], "inactive");
  // Both file status events, the kept one and the recovered one. Delivery is at least
  // once: on a loaded machine a delivery whose answer came late is sent again, so the
  // same event may arrive twice; what counts is that each recording's arrives.
  std::map<std::string, json> by_recording;
  for (size_t seen = 0; seen < 8 && !(by_recording.count(finished_id) && by_recording.count(killed_id)); ++seen) {
    if (!hooks.wait_for(seen + 1, 60s)) break;
    const json e = json::parse(hooks.bodies()[seen])[0];
    EXPECT_EQ(e["eventType"], "Microsoft.Communication.RecordingFileStatusUpdated");
    by_recording[e["data"]["recordingId"]] = e["data"];
  }
  std::string received;
  for (const auto& b : hooks.bodies()) received += b + "\n";
  ASSERT_TRUE(by_recording.count(finished_id)) << "no event for the finished recording; the webhook got:\n" << received;
  ASSERT_TRUE(by_recording.count(killed_id)) << "no event for the killed recording; the webhook got:\n" << received;
  EXPECT_EQ(by_recording[finished_id]["sessionEndReason"], "RecordingStopped");
  EXPECT_EQ(by_recording[killed_id]["sessionEndReason"], "RecoveredAfterCrash");
  // The callback heard that the killed recording is inactive.
  bool inactive_reported = false;
  for (int i = 0; i < 200 && !inactive_reported; ++i) {
    for (const auto& b : callbacks.bodies()) {
      const json e = json::parse(b)[0];
      if (e["data"]["recordingId"] == killed_id && e["data"]["state"] == "inactive") inactive_reported = true;
    }
    if (!inactive_reported) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(inactive_reported);

  // Every chunk of both recordings is served and passes the contract checks.
  for (const auto& [id, data] : by_recording) {
    const std::string call = id == killed_id ? call_b : call_a;
    const auto& chunks = data["recordingStorageInfo"]["recordingChunks"];
    ASSERT_GE(chunks.size(), 1u) << id;
    double total_ms = 0;
    for (const auto& c : chunks) {
      const std::string doc = c["documentId"];
      const HttpResult media = signed_request(second.port(), key, "GET", "/recording/download/" + doc);
      ASSERT_EQ(media.status, 200) << doc;
      const HttpResult meta = signed_request(second.port(), key, "GET", "/recording/download/" + doc + "/metadata");
      ASSERT_EQ(meta.status, 200) << doc;
      const fs::path file = dir / (doc + ".mp4");
      std::ofstream(file, std::ios::binary) << media.body;
      const json metadata = json::parse(meta.body);
      check_chunk_contract(file, metadata, {.document_id = doc, .index = c["index"].get<int>(), .call_id = call});
      total_ms += metadata["chunkDuration"].get<double>();
    }
    EXPECT_NEAR(total_ms, data["recordingDurationMs"].get<double>(), 250) << id;
    if (id == killed_id) {
      EXPECT_GE(total_ms, 1500) << "most of the 3 s before the kill is kept";
    }
  }
  EXPECT_EQ(second.stop(SIGTERM), 0) << second.err();
}

}  // namespace
}  // namespace callrec::testing
