// Four recordings at once in one `callrec serve`, with state queries from two clients
// meanwhile (each as fast as the service answers, one connection per query): every
// query is answered, every recording keeps pace with the wall clock (8 periods a second
// written, nothing dropped: the engine's counters, read through the service's stats
// route before the stop) and every chunk passes the contract checks.
//
// Late periods (periodsLate: written more than one period after their media was final)
// are printed, not asserted: on a shared 2-core machine they come from the machine's
// load as much as from the service (measured with no query at all: CLIENTS=0). The
// benchmark (service/bench/service_load_bench.cc) compares them with and without load.
//
// PHASE 1: the participants send no media (placeholder tiles, silence).
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
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
const int kClients = std::getenv("CLIENTS") ? std::atoi(std::getenv("CLIENTS")) : 2;
const char* kSdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 5006 RTP/AVP 96\r\n";

TEST(ServiceLoad, FourConcurrentRecordingsKeepPaceWhileStateQueriesAreAnswered) {
  av_log_set_level(AV_LOG_ERROR);
  const fs::path dir = fresh_dir("callrec_service_four");
  const std::string key = write_access_key(dir / "key");
  EventReceiver hooks;
  ServiceProcess service(CALLREC_BINARY, {"--storage", (dir / "storage").string(), "--access-key-file",
                                          (dir / "key").string(), "--event-webhook", hooks.url()});
  const int port = service.port();
  std::vector<std::string> calls, ids;
  for (int c = 0; c < 4; ++c) {
    calls.push_back(conversation_id_from_url("https://conversations.example/conversations/load-" + std::to_string(c)));
    for (int p = 0; p < 3; ++p) {
      const HttpResult r =
          signed_request(port, key, "POST", "/calling/calls/" + calls.back() + "/participants",
                         json{{"participantId", "8:acs:" + std::to_string(c) + "-" + std::to_string(p)}, {"sdp", kSdp}}.dump());
      ASSERT_EQ(r.status, 201) << r.body;
    }
    const HttpResult r = signed_request(port, key, "POST", std::string("/calling/recordings") + kApi,
                                        json{{"callLocator", {{"kind", "serverCallLocator"}, {"serverCallId", calls.back()}}}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    ids.push_back(json::parse(r.body)["recordingId"]);
  }
  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t)
    clients.emplace_back([&, t] {
      for (int i = 0; !done && i < 100000; ++i) {
        const HttpResult r = signed_request(port, key, "GET", "/calling/recordings/" + ids[(i + t) % 4] + kApi);
        (r.status == 200 ? answered : failed)++;
      }
    });
  std::this_thread::sleep_for(8s);
  std::vector<json> stats;
  for (const auto& id : ids) stats.push_back(json::parse(signed_request(port, key, "GET", "/callrec/recordings/" + id + "/stats").body));
  done = true;
  for (auto& c : clients) c.join();
  for (const auto& id : ids) EXPECT_EQ(signed_request(port, key, "DELETE", "/calling/recordings/" + id + kApi).status, 204);
  std::cout << "[ measured ] " << answered << " state queries answered in 8 s while 4 recordings ran\n";
  EXPECT_GT(answered.load(), 100);
  EXPECT_EQ(failed.load(), 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    std::cout << "[ measured ] recording " << i << ": " << stats[i].dump() << "\n";
    // 8 s at 8 periods a second, less the jitter window, the start and 1 s of slack.
    EXPECT_GE(stats[i]["periodsWritten"].get<int64_t>(), 8 * 8 - 16) << "keeps pace with the wall clock";
    EXPECT_EQ(stats[i]["mediaDroppedQueueFull"].get<int64_t>(), 0) << ids[i];
  }
  ASSERT_TRUE(hooks.wait_for(4, 60s));
  for (const auto& body : hooks.bodies()) {
    const json data = json::parse(body)[0]["data"];
    const std::string id = data["recordingId"];
    const size_t which = static_cast<size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
    ASSERT_LT(which, ids.size());
    for (const auto& c : data["recordingStorageInfo"]["recordingChunks"]) {
      const std::string doc = c["documentId"];
      const HttpResult media = signed_request(port, key, "GET", "/recording/download/" + doc);
      const HttpResult meta = signed_request(port, key, "GET", "/recording/download/" + doc + "/metadata");
      ASSERT_EQ(media.status, 200);
      ASSERT_EQ(meta.status, 200);
      const fs::path file = dir / (doc + ".mp4");
      std::ofstream(file, std::ios::binary) << media.body;
      const json metadata = json::parse(meta.body);
      check_chunk_contract(file, metadata, {.document_id = doc, .index = c["index"].get<int>(), .call_id = calls[which]});
      EXPECT_EQ(metadata["participants"].size(), 3u);
    }
  }
  EXPECT_EQ(service.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace callrec::testing
