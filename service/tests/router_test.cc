// The routes as functions: signed requests in, responses out, over a RecordingService
// with fake sessions (fake_session.h), a real chunk store and a real outbox whose sender
// records what it would POST.
#include "callrec/service/router.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "callrec/service/crypto.h"
#include "fake_session.h"

namespace callrec::service {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using nlohmann::json;

const char* kCall = "aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg";  // https://conv.example/conversations/42
const char* kApi = "?api-version=2023-10-15";
const char* kSdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 97\r\n"
                   "a=rtpmap:97 opus/48000/2\r\n";

struct Sent {
  std::mutex mu;
  std::vector<OutgoingEvent> events;
};

class RouterTest : public ::testing::Test {
 protected:
  RouterTest()
      : dir_(fs::temp_directory_path() / ("callrec_router_test_" + std::to_string(std::random_device()()))),
        store_(std::chrono::hours(48)),
        outbox_({.dir = dir_ / "outbox", .first_retry = std::chrono::milliseconds(10)},
                [this](const OutgoingEvent& e, std::chrono::milliseconds) {
                  std::lock_guard lock(sent_.mu);
                  sent_.events.push_back(e);
                  return std::pair<int, std::string>(200, "");
                }),
        service_({.storage = dir_, .public_base_url = "https://svc.example", .webhooks = {"https://hooks.example/in"}},
                 testing::fake_sessions(&log_), std::make_shared<SdpEchoMedia>(), outbox_, store_),
        auth_(std::vector<uint8_t>(32, 7)),
        router_(service_, auth_) {
    service_.start();
    outbox_.start();
  }
  ~RouterTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  HttpResponse send(http::verb method, const std::string& target, const std::string& body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}, bool sign = true) {
    HttpRequest req{method, target, 11};
    req.set(http::field::host, "svc.example");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    if (sign) {
      const SignedHeaders h =
          auth_.sign(std::string(req.method_string()), target, "svc.example", body, std::chrono::system_clock::now());
      req.set("x-ms-date", h.date);
      req.set("x-ms-content-sha256", h.content_sha256);
      req.set(http::field::authorization, h.authorization);
    }
    return router_.handle(req);
  }
  static json body(const HttpResponse& r) { return json::parse(r.body); }
  static std::string error_code(const HttpResponse& r) { return json::parse(r.body)["error"]["code"]; }

  std::string start_today(const std::string& call = kCall) {
    const HttpResponse r = send(http::verb::post, std::string("/calling/recordings") + kApi,
                                json{{"callLocator", {{"kind", "serverCallLocator"}, {"serverCallId", call}}},
                                     {"recordingStateCallbackUri", "https://backend.example/cb"}}
                                    .dump());
    EXPECT_EQ(r.status, 200u) << r.body;
    return body(r)["recordingId"];
  }
  // Events the outbox delivered, once the maintenance thread and the outbox settled.
  std::vector<OutgoingEvent> delivered(size_t at_least) {
    for (int i = 0; i < 400; ++i) {
      {
        std::lock_guard lock(sent_.mu);
        if (sent_.events.size() >= at_least) return sent_.events;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lock(sent_.mu);
    return sent_.events;
  }

  fs::path dir_;
  Sent sent_;
  testing::FakeSessionLog log_;
  ChunkStore store_;
  EventOutbox outbox_;
  RecordingService service_;
  HmacAuthenticator auth_;
  Router router_;
};

TEST_F(RouterTest, ReferenceRoutesStartPauseResumeStop) {
  const std::string base = std::string("/conversations/") + kCall;
  HttpResponse r = send(http::verb::post, base + "/Recordings",
                        R"({"operationContext": "op-1", "recordingStateCallbackUri": "https://backend.example/cb"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::string id = body(r)["recordingId"];
  const std::string rec = base + "/recordings/" + id;
  EXPECT_EQ(body(send(http::verb::get, rec))["recordingState"], "active");
  EXPECT_EQ(send(http::verb::post, rec + "/Pause", R"({"operationContext": "op-2"})").status, 200u);
  EXPECT_EQ(body(send(http::verb::get, rec))["recordingState"], "inactive");
  r = send(http::verb::post, rec + "/Pause", "{}");
  EXPECT_EQ(r.status, 409u);
  EXPECT_EQ(error_code(r), "RecordingAlreadyPaused");
  EXPECT_EQ(send(http::verb::post, rec + "/Resume", "{}").status, 200u);
  EXPECT_EQ(body(send(http::verb::get, rec))["recordingState"], "active");
  EXPECT_EQ(send(http::verb::delete_, rec, R"({"operationContext": "op-4"})").status, 200u);
  EXPECT_EQ(body(send(http::verb::get, rec))["recordingState"], "inactive");
  EXPECT_EQ(send(http::verb::delete_, rec).status, 409u) << "stopped twice";
  // Another conversation does not know the recording.
  EXPECT_EQ(send(http::verb::get, "/conversations/b3RoZXI/recordings/" + id).status, 404u);
  // The reference start needs its callback.
  r = send(http::verb::post, base + "/Recordings", R"({"operationContext": "x"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(body(r)["error"]["target"], "recordingStateCallbackUri");

  // The callback got start, pause, resume, stop as RecordingStateChanged CloudEvents.
  const auto events = delivered(5);
  std::vector<std::string> states;
  for (const auto& e : events) {
    if (e.target != "https://backend.example/cb") continue;
    const json j = json::parse(e.body);
    EXPECT_EQ(j[0]["type"], "Microsoft.Communication.RecordingStateChanged");
    EXPECT_EQ(j[0]["specversion"], "1.0");
    EXPECT_EQ(j[0]["data"]["recordingId"], id);
    states.push_back(j[0]["data"]["state"]);
  }
  EXPECT_EQ(states, (std::vector<std::string>{"active", "inactive", "active", "inactive"}));
}

TEST_F(RouterTest, TodaysRoutesAndTheirStatusCodes) {
  const std::string id = start_today();
  const std::string rec = "/calling/recordings/" + id;
  HttpResponse r = send(http::verb::get, rec + kApi);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(body(r)["recordingId"], id);
  EXPECT_EQ(body(r)["recordingState"], "active");
  EXPECT_EQ(send(http::verb::post, rec + ":pause" + kApi).status, 202u);
  EXPECT_EQ(body(send(http::verb::get, rec + kApi))["recordingState"], "inactive");
  EXPECT_EQ(send(http::verb::post, rec + ":resume" + kApi).status, 202u);
  EXPECT_EQ(send(http::verb::post, rec + ":resume" + kApi).status, 409u);
  EXPECT_EQ(send(http::verb::delete_, rec + kApi).status, 204u);
  EXPECT_EQ(body(send(http::verb::get, rec + kApi))["recordingState"], "inactive");
  r = send(http::verb::get, rec);
  EXPECT_EQ(r.status, 400u) << "api-version is required";
  EXPECT_EQ(error_code(r), "MissingApiVersion");
  EXPECT_EQ(send(http::verb::get, "/calling/recordings/00000000-0000-4000-8000-000000000000" + std::string(kApi)).status,
            404u);
}

TEST_F(RouterTest, RefusesRecordingKindsCallrecDoesNotMake) {
  const json locator = {{"kind", "serverCallLocator"}, {"serverCallId", kCall}};
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"callLocator", locator}, {"recordingFormatType", "wav"}}, "recordingFormatType"},
      {{{"callLocator", locator}, {"recordingFormatType", "mp3"}}, "recordingFormatType"},
      {{{"callLocator", locator}, {"recordingContentType", "audio"}}, "recordingContentType"},
      {{{"callLocator", locator}, {"recordingChannelType", "unmixed"}}, "recordingChannelType"},
      {{{"callLocator", locator}, {"channelAffinity", {{{"channel", 0}}}}}, "channelAffinity"},
      {{{"callLocator", locator}, {"externalStorage", {{"recordingStorageKind", "azureBlobStorage"}}}}, "externalStorage"},
      {{{"callLocator", {{"kind", "teamsLocator"}, {"id", "x"}}}}, "callLocator.kind"},
      {{{"callLocator", {{"kind", "serverCallLocator"}}}}, "callLocator.serverCallId"},
      {json::object(), "callLocator"},
      {{{"callLocator", locator}, {"recordingStateCallbackUri", "ftp://x/"}}, "recordingStateCallbackUri"},
      {{{"callLocator", locator}, {"recordingStateCallbackUri", 7}}, "recordingStateCallbackUri"},
      {{{"callLocator", locator}, {"pauseOnStart", "yes"}}, "pauseOnStart"},
  };
  for (const auto& [request, target] : cases) {
    const HttpResponse r = send(http::verb::post, std::string("/calling/recordings") + kApi, request.dump());
    EXPECT_EQ(r.status, 400u) << request.dump();
    EXPECT_EQ(body(r)["error"]["target"], target) << request.dump() << " -> " << r.body;
    EXPECT_FALSE(body(r)["error"]["message"].get<std::string>().empty());
  }
  // What it does make is accepted, in any spelling the client uses.
  const HttpResponse ok = send(http::verb::post, std::string("/calling/recordings") + kApi,
                               json{{"callLocator", locator},
                                    {"recordingContentType", "audioVideo"},
                                    {"recordingChannelType", "mixed"},
                                    {"recordingFormatType", "mp4"},
                                    {"channelAffinity", json::array()},
                                    {"pauseOnStart", true}}
                                   .dump());
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(body(ok)["recordingState"], "inactive") << "pauseOnStart";
}

TEST_F(RouterTest, RepeatabilityAndOneRecordingPerCall) {
  const std::vector<std::pair<std::string, std::string>> repeat = {
      {"Repeatability-Request-ID", "6c1f2b3a-0000-4000-8000-000000000001"},
      {"Repeatability-First-Sent", "Thu, 03 Dec 2026 09:20:48 GMT"}};
  const std::string start = json{{"callLocator", {{"kind", "groupCallLocator"}, {"groupCallId", "group-1"}}}}.dump();
  const HttpResponse a = send(http::verb::post, std::string("/calling/recordings") + kApi, start, repeat);
  const HttpResponse b = send(http::verb::post, std::string("/calling/recordings") + kApi, start, repeat);
  ASSERT_EQ(a.status, 200u) << a.body;
  ASSERT_EQ(b.status, 200u) << b.body;
  EXPECT_EQ(body(a)["recordingId"], body(b)["recordingId"]) << "a retried start is the same recording";
  const HttpResponse c = send(http::verb::post, std::string("/calling/recordings") + kApi, start);
  EXPECT_EQ(c.status, 409u);
  EXPECT_EQ(error_code(c), "RecordingAlreadyActive");
  EXPECT_EQ(send(http::verb::post, std::string("/calling/recordings") + kApi, start,
                 {{"Repeatability-Request-ID", "not a uuid!"}})
                .status,
            400u);
}

TEST_F(RouterTest, ParticipantsJoinTheCallsRecordingsWhenTheyComeAndGo) {
  const std::string call = std::string("/calling/calls/") + kCall + "/participants";
  HttpResponse r = send(http::verb::post, call,
                        json{{"participantId", "8:acs:ada"}, {"displayName", "Ada"}, {"sdp", kSdp}}.dump());
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(body(r)["participantId"], "8:acs:ada");
  EXPECT_EQ(body(r)["sdp"], kSdp) << "SdpEchoMedia answers with the offer";
  EXPECT_EQ(send(http::verb::post, call, json{{"participantId", "8:acs:ada"}, {"sdp", kSdp}}.dump()).status, 409u);
  const std::string id = start_today();
  r = send(http::verb::post, call, json{{"participantId", "8:acs:bob"}, {"sdp", kSdp}}.dump());
  ASSERT_EQ(r.status, 201u);
  EXPECT_EQ(send(http::verb::delete_, call + "/8:acs:ada").status, 204u);
  EXPECT_EQ(send(http::verb::delete_, call + "/8:acs:ada").status, 404u);
  EXPECT_EQ(send(http::verb::delete_, std::string("/calling/calls/unknown-call/participants/x")).status, 404u);
  {
    std::lock_guard lock(log_.mu);
    EXPECT_EQ(log_.calls[id], (std::vector<std::string>{"join 8:acs:ada", "start", "join 8:acs:bob", "leave 8:acs:ada"}));
  }
  // Bad offers and fields are refused by name.
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"participantId", "c"}, {"sdp", "hello"}}, "sdp"},
      {{{"participantId", "c"}, {"sdp", "v=0\r\nm=text 9 RTP/AVP 0\r\n"}}, "sdp"},
      {{{"participantId", "c"}, {"sdp", "v=0\r\ns=-\r\n"}}, "sdp"},
      {{{"participantId", "c"}, {"sdp", "v=0\r\nm=audio 99999 RTP/AVP 0\r\n"}}, "sdp"},
      {{{"participantId", "c"}}, "sdp"},
      {{{"sdp", kSdp}}, "participantId"},
      {{{"participantId", "a/b"}, {"sdp", kSdp}}, "participantId"},
      {{{"participantId", 5}, {"sdp", kSdp}}, "participantId"},
  };
  for (const auto& [request, target] : bad) {
    r = send(http::verb::post, call, request.dump());
    EXPECT_EQ(r.status, 400u) << request.dump();
    EXPECT_EQ(body(r)["error"]["target"], target) << request.dump() << " -> " << r.body;
  }
}

TEST_F(RouterTest, DownloadsRangesMetadataDeleteAndTheFileStatusEvent) {
  const std::string id = start_today();
  ASSERT_EQ(send(http::verb::delete_, "/calling/recordings/" + id + kApi).status, 204u);
  // The webhook gets the Event Grid event with the download locations.
  std::optional<json> file_status;
  for (const auto& e : delivered(3))
    if (e.target == "https://hooks.example/in") file_status = json::parse(e.body);
  ASSERT_TRUE(file_status);
  const json& chunk = (*file_status)[0]["data"]["recordingStorageInfo"]["recordingChunks"][0];
  const std::string doc = chunk["documentId"];
  EXPECT_EQ(chunk["contentLocation"], "https://svc.example/recording/download/" + doc);
  EXPECT_EQ(chunk["metadataLocation"], "https://svc.example/recording/download/" + doc + "/metadata");
  EXPECT_EQ(chunk["deleteLocation"], "https://svc.example/recording/download/" + doc);
  EXPECT_EQ((*file_status)[0]["eventType"], "Microsoft.Communication.RecordingFileStatusUpdated");

  const std::string url = "/recording/download/" + doc;
  HttpResponse r = send(http::verb::get, url, "", {{"Range", "bytes=undefined"}, {"OriginalUrl", "https://x" + url}});
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_TRUE(r.file);
  EXPECT_EQ(r.file->offset, 0u);
  EXPECT_EQ(r.file->length, 1000u);
  r = send(http::verb::get, url, "", {{"Range", "bytes=100-199"}});
  ASSERT_EQ(r.status, 206u);
  EXPECT_EQ(r.file->offset, 100u);
  EXPECT_EQ(r.file->length, 100u);
  const auto header = [](const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return std::string();
  };
  EXPECT_EQ(header(r, "Content-Range"), "bytes 100-199/1000");
  EXPECT_EQ(header(r, "Content-Type"), "video/mp4");
  const std::string etag = header(r, "ETag");
  EXPECT_EQ(send(http::verb::get, url, "", {{"If-None-Match", etag}}).status, 304u);
  r = send(http::verb::get, url, "", {{"Range", "bytes=5000-"}});
  EXPECT_EQ(r.status, 416u);
  EXPECT_EQ(header(r, "Content-Range"), "bytes */1000");
  r = send(http::verb::get, url + "/metadata");
  ASSERT_EQ(r.status, 200u);
  ASSERT_TRUE(r.file);
  EXPECT_EQ(send(http::verb::delete_, url).status, 200u);
  r = send(http::verb::get, url);
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(body(r)["status"], 404) << "what the 1.5.1 client's downloader reads";
  EXPECT_EQ(error_code(r), "DocumentNotFound");
  EXPECT_EQ(send(http::verb::delete_, url).status, 404u);
}

// GET /callrec/recordings/{id}/report: the page is made by a deferred job (the server
// runs it on a worker thread), 409 while no chunk is finished, then the page with its
// ETag; asked again it comes from memory, If-None-Match gets 304, and a chunk deleted
// changes it. (The fake chunk is not an MP4: the page says so; tests/service make real ones.)
TEST_F(RouterTest, TheReportRouteMakesThePageOffTheRouterAndRevalidatesIt) {
  const auto header = [](const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return std::string();
  };
  const std::string id = start_today();
  const std::string url = "/callrec/recordings/" + id + "/report";
  HttpResponse r = send(http::verb::get, url);
  ASSERT_TRUE(r.deferred) << "made on a worker, not on the thread that routes";
  r = r.deferred();
  EXPECT_EQ(r.status, 409u) << r.body;
  EXPECT_EQ(error_code(r), "ReportNotReady");

  ASSERT_EQ(send(http::verb::delete_, "/calling/recordings/" + id + kApi).status, 204u);
  for (int i = 0; i < 500 && !body(send(http::verb::get, "/callrec/recordings/" + id + "/stats"))["finished"]; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  r = send(http::verb::get, url);
  ASSERT_TRUE(r.deferred);
  r = r.deferred();
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(header(r, "Content-Security-Policy"), "default-src 'none'; img-src data:; style-src 'unsafe-inline'");
  EXPECT_EQ(header(r, "Cache-Control"), "private, no-cache");
  const std::string etag = header(r, "ETag");
  EXPECT_TRUE(etag.starts_with("\"report-")) << etag;
  EXPECT_TRUE(r.body.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(r.body.find(kCall), std::string::npos) << "the call's id is in the summary";

  const HttpResponse again = send(http::verb::get, url);
  EXPECT_FALSE(again.deferred) << "an unchanged recording's page is kept";
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.body, r.body);
  EXPECT_EQ(header(again, "ETag"), etag);
  const HttpResponse unchanged = send(http::verb::get, url, "", {{"If-None-Match", etag}});
  EXPECT_EQ(unchanged.status, 304u);
  EXPECT_FALSE(unchanged.deferred);
  EXPECT_EQ(header(unchanged, "ETag"), etag);

  const std::string doc = "0123456789abcdef0123456789abcdef-" + id.substr(0, 8) + "-000000";
  ASSERT_EQ(send(http::verb::delete_, "/recording/download/" + doc).status, 200u);
  r = send(http::verb::get, url, "", {{"If-None-Match", etag}});
  ASSERT_TRUE(r.deferred) << "a deleted chunk changes the page";
  r = r.deferred();
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(header(r, "ETag"), etag);

  r = send(http::verb::get, "/callrec/recordings/00000000-0000-4000-8000-000000000000/report");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(error_code(r), "RecordingNotFound");
  EXPECT_EQ(send(http::verb::get, "/callrec/recordings/..%2F..%2Fkey/report").status, 400u);
  EXPECT_EQ(send(http::verb::get, url, "", {}, false).status, 401u);
  EXPECT_EQ(send(http::verb::post, url).status, 404u);
}

TEST_F(RouterTest, EveryRequestNeedsTheSignature) {
  const std::string id = start_today();
  const HttpResponse r = send(http::verb::get, "/calling/recordings/" + id + kApi, "", {}, false);
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(error_code(r), "Unauthorized");
  EXPECT_EQ(send(http::verb::get, "/recording/download/abc", "", {}, false).status, 401u);
  EXPECT_EQ(send(http::verb::get, "/nothing/here", "", {}, false).status, 401u) << "no route is revealed unsigned";
}

TEST_F(RouterTest, HostileInputGetsTheErrorModel) {
  const std::vector<std::tuple<http::verb, std::string, std::string, unsigned>> cases = {
      {http::verb::get, "/nothing/here", "", 404},
      {http::verb::put, "/calling/recordings" + std::string(kApi), "{}", 404},
      {http::verb::post, "/calling/recordings" + std::string(kApi), "{not json", 400},
      {http::verb::post, "/calling/recordings" + std::string(kApi), "[1,2]", 400},
      {http::verb::post, "/calling/recordings" + std::string(kApi), "\"text\"", 400},
      {http::verb::get, "/recording/download/..%2F..%2Fetc%2Fpasswd", "", 400},
      {http::verb::get, "/recording/download/../../etc/passwd", "", 404},
      {http::verb::get, "/recording/download/%zz", "", 400},
      {http::verb::get, "/recording/download/a%00b", "", 400},
      {http::verb::get, "/calling/recordings/..%2F..%2Frecord" + std::string(kApi), "", 400},
      {http::verb::get, "/conversations/..%2Fx/recordings/abc", "", 400},
      {http::verb::post, "/calling/calls/a%2Fb/participants", "{}", 400},
      {http::verb::get, "/callrec/recordings/nope/stats", "", 404},
      // Found by fuzz_service_http: bytes that are not UTF-8, quoted in the message.
      {http::verb::get, "/\xff\xff/conversations", "", 404},
      {http::verb::delete_, "/calling/calls/" + std::string(kCall) + "/participants/%FF%FE", "", 404},
  };
  for (const auto& [method, target, request_body, status] : cases) {
    const HttpResponse r = send(method, target, request_body);
    EXPECT_EQ(r.status, status) << target << " " << r.body;
    const json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << target << ": " << r.body;
    for (const char* field : {"code", "message", "target", "details"})
      EXPECT_TRUE(j["error"].contains(field)) << target << " lacks " << field;
  }
}

}  // namespace
}  // namespace callrec::service
