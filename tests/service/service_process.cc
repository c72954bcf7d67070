#include "service_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <regex>
#include <stdexcept>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <mutex>

#include "callrec/service/crypto.h"
#include "sender_harness.h"
#include "callrec/service/hmac_auth.h"
#include "callrec/service/http_server.h"

namespace callrec::testing {

using Clock = std::chrono::steady_clock;

ServiceProcess::ServiceProcess(const std::string& binary, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv{binary, "serve", "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 2);
    const int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    execv(c[0], c.data());
    _exit(127);
  }
  close(fds[1]);
  err_fd_ = fds[0];
  const std::regex listening(R"(listening on https?://127\.0\.0\.1:(\d+))");
  const auto until = Clock::now() + std::chrono::seconds(30);
  std::smatch m;
  while (!std::regex_search(err_, m, listening)) {
    if (Clock::now() > until) throw std::runtime_error("callrec serve did not start: " + err_);
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      read_available(std::chrono::milliseconds(0));
      throw std::runtime_error("callrec serve exited at start: " + err_);
    }
    read_available(std::chrono::milliseconds(50));
  }
  port_ = std::stoi(m[1]);
}

ServiceProcess::~ServiceProcess() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (err_fd_ >= 0) close(err_fd_);
}

void ServiceProcess::read_available(std::chrono::milliseconds wait) {
  pollfd p{err_fd_, POLLIN, 0};
  while (poll(&p, 1, static_cast<int>(wait.count())) > 0) {
    char buffer[4096];
    const ssize_t n = read(err_fd_, buffer, sizeof buffer);
    if (n <= 0) return;
    err_.append(buffer, static_cast<size_t>(n));
    wait = std::chrono::milliseconds(0);
  }
}

const std::string& ServiceProcess::err() {
  read_available(std::chrono::milliseconds(0));
  return err_;
}

int ServiceProcess::stop(int signal, std::chrono::seconds timeout) {
  if (status_) return *status_;
  ::kill(pid_, signal);
  const auto until = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      break;
    }
    if (Clock::now() > until) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      status_ = -SIGKILL;
      break;
    }
    read_available(std::chrono::milliseconds(50));
  }
  read_available(std::chrono::milliseconds(0));
  return *status_;
}

RtpSenderProcess::RtpSenderProcess(const std::filesystem::path& file, uint16_t audio_port, uint16_t video_port) {
  const std::vector<std::string> args = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i",
                                         file.string(), "-map", "0:a", "-c:a", "copy", "-f", "rtp",
                                         "rtp://127.0.0.1:" + std::to_string(audio_port), "-map", "0:v", "-c:v",
                                         "copy", "-f", "rtp", "rtp://127.0.0.1:" + std::to_string(video_port)};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, 1);
    ::execvp("ffmpeg", argv.data());
    ::_exit(127);
  }
  if (pid_ < 0) throw std::runtime_error("cannot start ffmpeg");
}

RtpSenderProcess::~RtpSenderProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

std::string loopback_offer(bool audio, bool video, std::vector<uint16_t>* ports) {
  std::string sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n";
  if (audio) {
    const uint16_t port = ingest::test::free_port_pair();
    if (ports) ports->push_back(port);
    sdp += "m=audio " + std::to_string(port) + " RTP/AVP 97\r\na=rtpmap:97 opus/48000/2\r\n";
  }
  if (video) {
    const uint16_t port = ingest::test::free_port_pair();
    if (ports) ports->push_back(port);
    sdp += "m=video " + std::to_string(port) + " RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
  }
  return sdp;
}

std::string write_access_key(const std::filesystem::path& file) {
  std::random_device rd;
  std::vector<uint8_t> key(32);
  for (auto& b : key) b = static_cast<uint8_t>(rd());
  const std::string text = service::base64_encode(key);
  std::ofstream(file) << text << "\n";
  return text;
}

// ---- signed requests and an event receiver, over the service library's own pieces ----

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpResult signed_request(int port, const std::string& key, const std::string& method, const std::string& target,
                          const std::string& body) {
  const service::HmacAuthenticator auth(*service::base64_decode(key));
  const std::string host = "127.0.0.1:" + std::to_string(port);
  const service::SignedHeaders h = auth.sign(method, target, host, body, std::chrono::system_clock::now());
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  req.set("x-ms-date", h.date);
  req.set("x-ms-content-sha256", h.content_sha256);
  req.set(http::field::authorization, h.authorization);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ULL << 31);
  http::read(stream, buffer, parser);
  beast::error_code ec;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return {static_cast<int>(parser.get().result_int()), parser.get().body()};
}

struct EventReceiver::Impl {
  asio::io_context ioc;
  std::mutex mu;
  std::vector<std::string> bodies;
  int refuse_status = 0;
  std::unique_ptr<service::HttpServer> server;
  std::thread thread;
};

EventReceiver::EventReceiver() : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.server = std::make_unique<service::HttpServer>(
      d.ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), nullptr, service::ServerLimits{},
      [&d](const service::HttpRequest& req) {
        service::HttpResponse r;
        std::lock_guard lock(d.mu);
        if (d.refuse_status) {
          r.status = static_cast<unsigned>(d.refuse_status);
          return r;
        }
        d.bodies.push_back(req.body());
        return r;
      });
  d.server->start();
  d.thread = std::thread([&d] { d.ioc.run(); });
}

EventReceiver::~EventReceiver() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::string EventReceiver::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->server->local_endpoint().port()) + "/events";
}

void EventReceiver::refuse(int status) {
  std::lock_guard lock(impl_->mu);
  impl_->refuse_status = status;
}

std::vector<std::string> EventReceiver::bodies() {
  std::lock_guard lock(impl_->mu);
  return impl_->bodies;
}

bool EventReceiver::wait_for(size_t count, std::chrono::seconds timeout) {
  const auto until = Clock::now() + timeout;
  while (bodies().size() < count) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace callrec::testing
