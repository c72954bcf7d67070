// The recording service under load, end to end (not a Google Benchmark: it runs
// processes and measures them).
//
//   build/service/service_load_bench [SECONDS=20] [CLIENTS=2]
//
// 1. `callrec serve` idle: CPU and RSS.
// 2. Four recordings (3 participants each, no media: placeholders and silence) for
//    SECONDS, no requests: the service's CPU and RSS per recording, late periods.
// 3. The same with CLIENTS keep-alive connections issuing signed state queries as fast
//    as they are answered: requests/s, p50/p99 latency, late periods.
// 4. `callrec render` of the same call (3 participants, no media, SECONDS long): CPU
//    per second of media and peak RSS, beside the service's per recording.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "callrec/conversation_id.h"
#include "callrec/service/crypto.h"
#include "callrec/service/hmac_auth.h"
#include "sender_harness.h"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

const char* kApi = "?api-version=2023-10-15";

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream f(s.substr(s.rfind(')') + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    f >> field;
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_kib(pid_t pid, const char* key = "VmRSS:") {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  return 0;
}

// One keep-alive connection issuing signed requests.
class Client {
 public:
  Client(int port, const callrec::service::HmacAuthenticator& auth) : port_(port), auth_(auth), stream_(ioc_) {
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  }
  std::pair<int, std::string> request(const std::string& method, const std::string& target, const std::string& body = "") {
    const std::string host = "127.0.0.1:" + std::to_string(port_);
    const auto h = auth_.sign(method, target, host, body, std::chrono::system_clock::now());
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.set("x-ms-date", h.date);
    req.set("x-ms-content-sha256", h.content_sha256);
    req.set(http::field::authorization, h.authorization);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    return {res.result_int(), res.body()};
  }

 private:
  int port_;
  const callrec::service::HmacAuthenticator& auth_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

struct Service {
  pid_t pid = -1;
  int port = 0;
  Service(const std::string& binary, const fs::path& dir) {
    const fs::path log = dir / "serve.log";
    pid = fork();
    if (pid == 0) {
      const std::string storage = (dir / "storage").string(), key = (dir / "key").string();
      if (!freopen(log.c_str(), "w", stderr)) _exit(126);
      execl(binary.c_str(), binary.c_str(), "serve", "--listen", "127.0.0.1:0", "--storage", storage.c_str(),
            "--access-key-file", key.c_str(), "--threads", "2", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 400 && port == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const size_t at = text.find("listening on http://127.0.0.1:");
      if (at != std::string::npos) port = std::stoi(text.substr(at + 30));
    }
    if (port == 0) throw std::runtime_error("callrec serve did not start");
  }
  ~Service() {
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
  }
};

struct Phase {
  double cpu_s = 0;
  long rss_kib = 0;
  int64_t late = 0;
  int64_t written = 0;
  int64_t max_lag_ms = 0;
  std::vector<double> latencies_ms;
  double seconds = 0;
};

Phase run_recordings(const Service& s, const callrec::service::HmacAuthenticator& auth, int seconds, int clients,
                     int round) {
  Client control(s.port, auth);
  std::vector<std::string> ids;
  for (int c = 0; c < 4; ++c) {
    const std::string call =
        callrec::conversation_id_from_url("https://bench.example/" + std::to_string(round) + "/" + std::to_string(c));
    for (int p = 0; p < 3; ++p)
      control.request("POST", "/calling/calls/" + call + "/participants",
                      json{{"participantId", "8:acs:" + std::to_string(p)},
                           // callrec binds the offer's port at the join: a free one each.
                           {"sdp", "v=0\r\nc=IN IP4 127.0.0.1\r\nm=video " +
                                       std::to_string(callrec::ingest::test::free_port_pair()) +
                                       " RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"}}
                          .dump());
    const auto r = control.request("POST", std::string("/calling/recordings") + kApi,
                                   json{{"callLocator", {{"kind", "serverCallLocator"}, {"serverCallId", call}}}}.dump());
    ids.push_back(json::parse(r.second)["recordingId"]);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // past the starts
  Phase ph;
  const double cpu0 = cpu_seconds(s.pid);
  const auto t0 = Clock::now();
  std::atomic<bool> done{false};
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      Client c(s.port, auth);
      for (size_t i = 0; !done; ++i) {
        const auto a = Clock::now();
        c.request("GET", "/calling/recordings/" + ids[i % 4] + kApi);
        lat[static_cast<size_t>(t)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
      }
    });
  long rss_max = 0;
  while (Clock::now() - t0 < std::chrono::seconds(seconds)) {
    rss_max = std::max(rss_max, rss_kib(s.pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  done = true;
  for (auto& t : threads) t.join();
  ph.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  ph.cpu_s = cpu_seconds(s.pid) - cpu0;
  ph.rss_kib = rss_max;
  for (const auto& id : ids) {
    const json st = json::parse(control.request("GET", "/callrec/recordings/" + id + "/stats").second);
    ph.late += st.value("periodsLate", 0);
    ph.written += st.value("periodsWritten", 0);
    ph.max_lag_ms = std::max<int64_t>(ph.max_lag_ms, st.value("maxOutputLagMs", 0));
  }
  for (const auto& id : ids) control.request("DELETE", "/calling/recordings/" + id + kApi);
  for (auto& l : lat) ph.latencies_ms.insert(ph.latencies_ms.end(), l.begin(), l.end());
  std::sort(ph.latencies_ms.begin(), ph.latencies_ms.end());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the recordings finish
  return ph;
}

double percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 20;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 2;
  const fs::path dir = fs::temp_directory_path() / ("callrec_service_bench_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::random_device rd;
  std::vector<uint8_t> key(32);
  for (auto& b : key) b = static_cast<uint8_t>(rd());
  std::ofstream(dir / "key") << callrec::service::base64_encode(key) << "\n";
  const callrec::service::HmacAuthenticator auth(key);

  Phase quiet, loaded;
  double idle_cpu = 0;
  long idle_rss = 0;
  {
    Service s(CALLREC_BINARY, dir);
    const double c0 = cpu_seconds(s.pid);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    idle_cpu = (cpu_seconds(s.pid) - c0) / 2;
    idle_rss = rss_kib(s.pid);
    quiet = run_recordings(s, auth, seconds, 0, 0);
    loaded = run_recordings(s, auth, seconds, clients, 1);
  }
  // The offline renderer on the same call.
  json manifest = {{"callId", "bench"}, {"recordingStartTime", "2026-11-27T10:00:00Z"},
                   {"timeline", {{{"atMs", 0}, {"action", "start"}}, {{"atMs", seconds * 1000}, {"action", "stop"}}}}};
  for (int p = 0; p < 3; ++p) manifest["participants"].push_back({{"participantId", "8:acs:" + std::to_string(p)}});
  std::ofstream(dir / "call.json") << manifest.dump();
  const auto r0 = Clock::now();
  const pid_t render = fork();
  if (render == 0) {
    if (!freopen("/dev/null", "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
    execl(CALLREC_BINARY, CALLREC_BINARY, "render", (dir / "call.json").c_str(), "--out", (dir / "render").c_str(),
          "--quiet", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(render, &status, 0, &usage);
  const double render_wall = std::chrono::duration<double>(Clock::now() - r0).count();
  const double render_cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                            static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  fs::remove_all(dir);

  std::printf("service idle:                      %.3f cores, RSS %ld MiB\n", idle_cpu, idle_rss / 1024);
  std::printf("4 recordings, no requests:         %.3f cores per recording, RSS %ld MiB (%.1f MiB per recording over idle), "
              "late periods %lld of %lld (worst lag %lld ms)\n",
              quiet.cpu_s / quiet.seconds / 4, quiet.rss_kib / 1024, (quiet.rss_kib - idle_rss) / 1024.0 / 4,
              static_cast<long long>(quiet.late), static_cast<long long>(quiet.written),
              static_cast<long long>(quiet.max_lag_ms));
  std::printf("4 recordings + %d query clients:    %.0f state queries/s, p50 %.2f ms, p99 %.2f ms; service %.3f cores "
              "in all; late periods %lld of %lld (worst lag %lld ms)\n",
              clients, static_cast<double>(loaded.latencies_ms.size()) / loaded.seconds,
              percentile(loaded.latencies_ms, 0.5), percentile(loaded.latencies_ms, 0.99), loaded.cpu_s / loaded.seconds,
              static_cast<long long>(loaded.late), static_cast<long long>(loaded.written),
              static_cast<long long>(loaded.max_lag_ms));
  std::printf("offline renderer, same call (%d s): %.3f CPU s per media s (%.2fx real time), peak RSS %ld MiB\n", seconds,
              render_cpu / seconds, seconds / render_wall, usage.ru_maxrss / 1024);
  std::printf("per recording: service %.3f CPU s per media s vs renderer %.3f (ratio %.2f)\n",
              quiet.cpu_s / quiet.seconds / 4, render_cpu / seconds,
              (quiet.cpu_s / quiet.seconds / 4) / (render_cpu / seconds));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
