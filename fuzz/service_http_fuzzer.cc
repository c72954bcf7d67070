// libFuzzer: the service's HTTP request handling — Beast's request parser with the
// server's limits, HMAC authentication and every route — on arbitrary bytes.
//
// Input: [flags u8][an HTTP/1.1 request as on the wire]. With flags & 1 the parsed
// request is signed correctly before it is routed, so the routes behind the
// authentication are reached too. Sessions are fakes (service/tests/fake_session.h),
// storage and the event outbox live under /dev/shm when it exists. A response's deferred
// work (the report page) is run as the server would. Every request must
// get an answer in the error model or a success; a crash, a sanitizer report, an
// exception escaping the router, or an error response that is not the error model is a
// finding.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string_view>

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/parser.hpp>
#include <nlohmann/json.hpp>

#include "callrec/service/router.h"
#include "fake_session.h"

namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using namespace callrec::service;

const std::chrono::system_clock::time_point kNow = std::chrono::system_clock::from_time_t(1796289648);

struct World {
  World()
      : dir((fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path()) /
            ("callrec_fuzz_service_" + std::to_string(std::random_device()()))),
        store(std::chrono::hours(48)),
        outbox({.dir = dir / "outbox"},
               [](const OutgoingEvent&, std::chrono::milliseconds) { return std::pair<int, std::string>(200, ""); }),
        service({.storage = dir, .public_base_url = "https://fuzz.example", .webhooks = {"http://127.0.0.1:9/hook"}},
                testing::fake_sessions(nullptr, 64), std::make_shared<SdpEchoMedia>(), outbox, store),
        auth(std::vector<uint8_t>(32, 1)),
        router(service, auth, [] { return kNow; }) {
    service.start();
    outbox.start();
  }
  ~World() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path dir;
  ChunkStore store;
  EventOutbox outbox;
  RecordingService service;
  HmacAuthenticator auth;
  Router router;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One service for many inputs, as in production (state carries over between requests),
  // made anew every 4096 inputs so that the recordings it accumulates stay bounded; its
  // folder is removed with it (and at exit).
  static std::unique_ptr<World> world;
  static size_t runs = 0;
  if (!world || ++runs % 4096 == 0) {
    world.reset();
    world = std::make_unique<World>();
  }
  if (size < 1) return 0;
  const bool sign = data[0] & 1;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data + 1, size - 1), ec);
  if (ec || !parser.is_done()) return 0;
  HttpRequest req = parser.release();
  if (sign) {
    const auto host = req.find(http::field::host);
    const std::string h = host == req.end() ? "" : std::string(host->value());
    const SignedHeaders s = world->auth.sign(std::string(req.method_string()), req.target(), h, req.body(), kNow);
    req.set("x-ms-date", s.date);
    req.set("x-ms-content-sha256", s.content_sha256);
    req.set(http::field::authorization, s.authorization);
  }
  HttpResponse r = world->router.handle(req);
  // What the server would run on its worker thread (the report route's page).
  if (r.deferred) r = r.deferred();
  if (r.status < 200 || r.status > 599) __builtin_trap();
  if (r.status >= 400) {
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error") || !j["error"].contains("code") || !j["error"].contains("message"))
      __builtin_trap();  // every error is in the error model
  }
  return 0;
}
