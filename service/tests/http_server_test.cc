// HttpServer on a loopback socket: what a hostile or broken client gets, and that the
// server keeps serving the others.
#include "callrec/service/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

namespace callrec::service {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class HttpServerTest : public ::testing::Test {
 protected:
  void start(ServerLimits limits) {
    server_ = std::make_unique<HttpServer>(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), nullptr, limits,
                                           [this](const HttpRequest& req) { return handle(req); });
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~HttpServerTest() override {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  HttpResponse handle(const HttpRequest& req) {
    io_thread_ = std::this_thread::get_id();
    if (req.target() == "/deferred") {
      HttpResponse r;
      r.body = "never sent: the deferred job's answer is";
      r.deferred = [this] {
        job_thread_ = std::this_thread::get_id();
        job_started_.set_value();
        job_release_.wait();
        HttpResponse made;
        made.body = "made on a worker";
        return made;
      };
      return r;
    }
    if (req.target() == "/file") {
      HttpResponse r;
      r.status = 206;
      r.file = std::make_shared<FileSlice>();
      boost::beast::error_code ec;
      r.file->file.open(file_.c_str(), boost::beast::file_mode::scan, ec);
      r.file->offset = 10;
      r.file->length = 20;
      return r;
    }
    HttpResponse r;
    r.body = "hello " + std::string(req.target());
    return r;
  }
  tcp::socket connect() {
    tcp::socket s(client_ioc_);
    s.connect(server_->local_endpoint());
    return s;
  }
  // Sends `bytes` and reads until the server closes (or `wait` passes).
  static std::string exchange(tcp::socket& s, const std::string& bytes, std::chrono::milliseconds wait = 5000ms) {
    if (!bytes.empty()) asio::write(s, asio::buffer(bytes));
    std::string out;
    const auto until = std::chrono::steady_clock::now() + wait;
    s.non_blocking(true);
    while (std::chrono::steady_clock::now() < until) {
      char buf[4096];
      boost::system::error_code ec;
      const size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (ec) break;  // closed
      out.append(buf, n);
    }
    return out;
  }
  static bool closed_within(tcp::socket& s, std::chrono::milliseconds wait) {
    const auto start = std::chrono::steady_clock::now();
    exchange(s, "", wait);
    return std::chrono::steady_clock::now() - start < wait;
  }

  asio::io_context ioc_;
  asio::io_context client_ioc_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::filesystem::path file_;
  std::thread::id io_thread_, job_thread_;
  std::promise<void> job_started_;
  std::shared_future<void> job_release_;
};

TEST_F(HttpServerTest, ServesKeepAliveRequestsAndFileSlices) {
  file_ = std::filesystem::temp_directory_path() / ("callrec_http_file_" + std::to_string(std::random_device()()));
  {
    std::ofstream out(file_, std::ios::binary);
    for (int i = 0; i < 100; ++i) out.put(static_cast<char>('A' + i % 26));
  }
  start({});
  tcp::socket s = connect();
  const std::string r = exchange(s, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r.find("hello /a"), std::string::npos) << r;
  EXPECT_NE(r.find("HTTP/1.1 206"), std::string::npos) << r;
  EXPECT_NE(r.find("Content-Length: 20\r\n"), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("KLMNOPQRSTUVWXYZABCD")) << r;
  std::filesystem::remove(file_);
}

TEST_F(HttpServerTest, OversizedAndMalformedRequestsGetTheErrorModel) {
  ServerLimits limits;
  limits.body_bytes = 1024;
  limits.header_bytes = 2048;
  start(limits);
  {
    tcp::socket s = connect();
    const std::string r = exchange(s, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(2000, 'a'));
    EXPECT_TRUE(r.starts_with("HTTP/1.1 413")) << r;
    EXPECT_NE(r.find("\"code\":\"RequestTooLarge\""), std::string::npos) << r;
  }
  {
    tcp::socket s = connect();
    const std::string r = exchange(s, "GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 431")) << r;
  }
  {
    tcp::socket s = connect();
    const std::string r = exchange(s, "GARBAGE\r\n\r\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
    EXPECT_NE(r.find("\"code\":\"MalformedRequest\""), std::string::npos) << r;
  }
  {
    tcp::socket s = connect();
    const std::string r = exchange(s, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
  }
  tcp::socket ok = connect();
  EXPECT_NE(exchange(ok, "GET /still HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").find("hello /still"),
            std::string::npos);
}

TEST_F(HttpServerTest, SilentSlowAndSurplusClientsAreDropped) {
  ServerLimits limits;
  limits.idle_timeout = 300ms;
  limits.max_connections = 3;
  start(limits);
  tcp::socket silent = connect();
  EXPECT_TRUE(closed_within(silent, 3000ms)) << "a client that sends nothing is dropped";
  // A slow client: one header byte every 50 ms never finishes within the deadline.
  tcp::socket slow = connect();
  const std::string request = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(200, 'p') + "\r\n\r\n";
  bool dropped = false;
  for (const char c : request) {
    boost::system::error_code ec;
    asio::write(slow, asio::buffer(&c, 1), ec);
    if (ec) {
      dropped = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  if (!dropped) dropped = exchange(slow, "", 2000ms).find("hello /slow") == std::string::npos;
  EXPECT_TRUE(dropped) << "the deadline covers the whole request, not each byte";
  // Three connections held open: a fourth is closed at once, and served once they go.
  std::vector<tcp::socket> held;
  for (int i = 0; i < 3; ++i) held.push_back(connect());
  std::this_thread::sleep_for(50ms);
  tcp::socket surplus = connect();
  EXPECT_TRUE(closed_within(surplus, 2000ms)) << "over max_connections";
  held.clear();
  std::this_thread::sleep_for(400ms);
  tcp::socket later = connect();
  EXPECT_NE(exchange(later, "GET /later HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").find("hello /later"),
            std::string::npos);
}

// "Expect: 100-continue" (RFC 9110 §10.1.1): the client gets 100 (Continue) as soon as
// its header is in, before it sends the body, then the answer; a body over the limit is
// refused at once instead, without a 100.
TEST_F(HttpServerTest, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  ServerLimits limits;
  limits.body_bytes = 1024;
  start(limits);
  tcp::socket s = connect();
  asio::write(s, asio::buffer(std::string("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                          "Expect: 100-continue\r\nConnection: close\r\n\r\n")));
  std::string interim;
  s.non_blocking(true);
  for (int i = 0; i < 1000 && interim.find("\r\n\r\n") == std::string::npos; ++i) {
    char buf[256];
    boost::system::error_code ec;
    const size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block) {
      std::this_thread::sleep_for(5ms);
      continue;
    }
    ASSERT_FALSE(ec) << ec.message();
    interim.append(buf, n);
  }
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n") << "before any byte of the body was sent";
  s.non_blocking(false);
  const std::string r = exchange(s, "hello");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << r;
  EXPECT_NE(r.find("hello /upload"), std::string::npos) << r;

  tcp::socket big = connect();
  const std::string refused = exchange(big, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                                            "Expect: 100-continue\r\n\r\n");
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 413")) << refused;
  EXPECT_EQ(refused.find("100 Continue"), std::string::npos) << refused;
}

// A response with deferred work is made on a worker thread: the single I/O thread keeps
// serving other connections meanwhile, a job beyond max_deferred is refused at once
// (503), and the connection that waited gets its answer and goes on with keep-alive.
TEST_F(HttpServerTest, DeferredWorkRunsOnAWorkerWhileTheIoThreadServesOthers) {
  std::promise<void> release;
  job_release_ = release.get_future().share();
  ServerLimits limits;
  limits.worker_threads = 1;
  limits.max_deferred = 1;
  start(limits);  // one I/O thread
  namespace http = boost::beast::http;
  auto read_response = [](tcp::socket& s) {
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(s, buffer, res);
    return res;
  };
  tcp::socket waiting = connect();
  asio::write(waiting, asio::buffer(std::string("GET /deferred HTTP/1.1\r\nHost: x\r\n\r\n")));
  ASSERT_EQ(job_started_.get_future().wait_for(10s), std::future_status::ready);

  tcp::socket other = connect();
  EXPECT_NE(exchange(other, "GET /meanwhile HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").find("hello /meanwhile"),
            std::string::npos)
      << "the I/O thread is not held by the job";
  tcp::socket surplus = connect();
  const std::string busy = exchange(surplus, "GET /deferred HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(busy.starts_with("HTTP/1.1 503")) << busy;
  EXPECT_NE(busy.find("\"code\":\"ServiceBusy\""), std::string::npos) << busy;
  EXPECT_NE(busy.find("Retry-After: 5"), std::string::npos) << busy;

  release.set_value();
  const auto answer = read_response(waiting);
  EXPECT_EQ(answer.result_int(), 200);
  EXPECT_EQ(answer.body(), "made on a worker");
  EXPECT_NE(job_thread_, io_thread_);
  asio::write(waiting, asio::buffer(std::string("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")));
  EXPECT_EQ(read_response(waiting).body(), "hello /again") << "keep-alive goes on after a deferred answer";
}

}  // namespace
}  // namespace callrec::service
