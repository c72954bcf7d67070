#include "callrec/service/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/optional.hpp>

#include <algorithm>
#include <array>
#include <iostream>
#include <optional>

namespace callrec::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// A Beast body that sends a slice of an open file (Beast's file_body sends whole files).
struct FileSliceBody {
  using value_type = std::shared_ptr<FileSlice>;
  static uint64_t size(const value_type& v) { return v ? v->length : 0; }

  class writer {
   public:
    using const_buffers_type = asio::const_buffer;
    template <bool isRequest, class Fields>
    writer(http::header<isRequest, Fields>&, const value_type& v) : slice_(v), remain_(v ? v->length : 0) {}
    void init(beast::error_code& ec) {
      if (slice_) slice_->file.seek(slice_->offset, ec);
      else ec = {};
    }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      if (remain_ == 0) {
        ec = {};
        return boost::none;
      }
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), remain_));
      const size_t got = slice_->file.read(buffer_.data(), want, ec);
      if (ec) return boost::none;
      if (got == 0) {
        // The file is shorter than it was when the answer was made.
        ec = http::error::short_read;
        return boost::none;
      }
      remain_ -= got;
      return std::make_pair(asio::const_buffer(buffer_.data(), got), remain_ > 0);
    }

   private:
    value_type slice_;
    uint64_t remain_;
    std::array<char, 64 * 1024> buffer_;
  };
};

struct HttpServer::Shared {
  Handler handler;
  ServerLimits limits;
  ssl::context* tls = nullptr;
  std::atomic<int> connections{0};
  asio::thread_pool* workers = nullptr;  // HttpServer::workers_
  std::atomic<int> deferred{0};          // jobs waiting or running
};

namespace {

// Counts an open connection for as long as it lives.
class ConnectionToken {
 public:
  explicit ConnectionToken(std::shared_ptr<HttpServer::Shared> s) : shared_(std::move(s)) { ++shared_->connections; }
  ~ConnectionToken() {
    if (shared_) --shared_->connections;
  }
  ConnectionToken(ConnectionToken&& o) noexcept : shared_(std::move(o.shared_)) {}
  ConnectionToken(const ConnectionToken&) = delete;
  ConnectionToken& operator=(const ConnectionToken&) = delete;
  ConnectionToken& operator=(ConnectionToken&&) = delete;
  HttpServer::Shared& shared() const { return *shared_; }

 private:
  std::shared_ptr<HttpServer::Shared> shared_;
};

bool is_protocol_error(const beast::error_code& ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// One request/response loop, shared by plain and TLS connections (CRTP).
template <class Derived>
class HttpConnection {
 public:
  HttpConnection(beast::flat_buffer buffer, ConnectionToken token, bool tls_required)
      : buffer_(std::move(buffer)), token_(std::move(token)), tls_required_(tls_required) {}

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }
  const ServerLimits& limits() const { return token_.shared().limits; }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(limits().header_bytes));
    parser_->body_limit(limits().body_bytes);
    beast::get_lowest_layer(derived().stream()).expires_after(limits().idle_timeout);
    http::async_read_header(derived().stream(), buffer_, *parser_,
                            beast::bind_front_handler(&HttpConnection::on_header, derived().shared_from_this()));
  }

  // The header is in. A client that sent "Expect: 100-continue" waits for a 100
  // (Continue) before it sends the body (RFC 9110 §10.1.1; curl waits 1 s, then sends
  // anyway): it gets one at once. A body over the limit was refused already (the parser
  // checks Content-Length against it with the header: 413 without a 100). The request's
  // deadline keeps running across both reads and the 100.
  void on_header(beast::error_code ec, size_t bytes) {
    if (ec || parser_->is_done()) return on_read(ec, bytes);
    const auto& header = parser_->get();
    if (header.version() >= 11 && beast::iequals(header[http::field::expect], "100-continue")) {
      auto proceed = std::make_shared<http::response<http::empty_body>>(http::status::continue_, header.version());
      http::async_write(derived().stream(), *proceed,
                        [self = derived().shared_from_this(), proceed](beast::error_code e, size_t) {
                          if (e) return;  // the connection ends
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(derived().stream(), buffer_, *parser_,
                     beast::bind_front_handler(&HttpConnection::on_read, derived().shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return derived().do_eof();
    if (ec) {
      if (ec == http::error::body_limit)
        return send(error_response(413, "RequestTooLarge",
                                   "the request body exceeds " + std::to_string(limits().body_bytes) + " bytes"),
                    11, false);
      if (ec == http::error::header_limit)
        return send(error_response(431, "HeadersTooLarge",
                                   "the request headers exceed " + std::to_string(limits().header_bytes) + " bytes"),
                    11, false);
      if (is_protocol_error(ec))
        return send(error_response(400, "MalformedRequest", "malformed HTTP request: " + ec.message()), 11, false);
      return;  // timeout, reset, ...: the connection just ends
    }
    HttpRequest req = parser_->release();
    if (tls_required_)
      return send(error_response(400, "TlsRequired", "this service speaks HTTPS only"), req.version(), false);
    HttpResponse r;
    try {
      r = token_.shared().handler(req);
    } catch (const std::exception& e) {
      // The router answers every error itself; this only keeps a bug from ending the
      // process (an exception would leave io_context::run()).
      r = error_response(500, "InternalError", std::string("internal error: ") + e.what());
    }
    if (r.deferred) return defer(std::move(r.deferred), req.version(), req.keep_alive());
    send(std::move(r), req.version(), req.keep_alive());
  }

  // Runs `job` on a worker thread, then sends its answer from this connection's strand.
  // Nothing is read meanwhile, so the connection has no operation pending and its
  // deadline does not run.
  void defer(std::function<HttpResponse()> job, unsigned version, bool keep_alive) {
    HttpServer::Shared& shared = token_.shared();
    if (shared.deferred.fetch_add(1) >= shared.limits.max_deferred || !shared.workers) {
      --shared.deferred;
      HttpResponse busy = error_response(503, "ServiceBusy",
                                         "too many reports are being made; try again in a few seconds");
      busy.headers.emplace_back("Retry-After", "5");
      return send(std::move(busy), version, keep_alive);
    }
    asio::post(*shared.workers, [self = derived().shared_from_this(), job = std::move(job), version, keep_alive] {
      HttpResponse r;
      try {
        r = job();
      } catch (const std::exception& e) {
        r = error_response(500, "InternalError", std::string("internal error: ") + e.what());
      }
      r.deferred = nullptr;
      --self->token_.shared().deferred;
      asio::post(self->stream().get_executor(), [self, r = std::move(r), version, keep_alive]() mutable {
        self->send(std::move(r), version, keep_alive);
      });
    });
  }

  template <class Message>
  void fill(Message& m, HttpResponse& r, bool keep_alive) {
    m.result(r.status);
    m.set(http::field::server, "callrec");
    for (const auto& [k, v] : r.headers) m.set(k, v);
    m.keep_alive(keep_alive);
  }

  void send(HttpResponse r, unsigned version, bool keep_alive) {
    if (r.file) {
      auto m = std::make_shared<http::response<FileSliceBody>>();
      m->version(version);
      fill(*m, r, keep_alive);
      m->body() = r.file;
      m->prepare_payload();
      return write(std::move(m));
    }
    auto m = std::make_shared<http::response<http::string_body>>();
    m->version(version);
    fill(*m, r, keep_alive);
    if (r.head) {
      m->content_length(r.head_length);
    } else {
      m->body() = std::move(r.body);
      if (r.status != 204 && r.status != 304) m->prepare_payload();
    }
    write(std::move(m));
  }

  // Writes piece by piece so that the deadline applies to each piece: a client that
  // reads slowly but steadily gets its download, one that stops reading is dropped.
  template <class Message>
  void write(std::shared_ptr<Message> m) {
    auto sr = std::make_shared<http::serializer<false, typename Message::body_type>>(*m);
    response_ = m;
    serializer_ = sr;
    write_some(std::move(m), std::move(sr));
  }

  template <class Message, class Serializer>
  void write_some(std::shared_ptr<Message> m, std::shared_ptr<Serializer> sr) {
    beast::get_lowest_layer(derived().stream()).expires_after(limits().write_timeout);
    auto self = derived().shared_from_this();
    http::async_write_some(derived().stream(), *sr,
                           [this, self, m, sr](beast::error_code ec, size_t) mutable {
                             if (ec) return;  // the connection ends
                             if (!sr->is_done()) return write_some(std::move(m), std::move(sr));
                             const bool close = m->need_eof();
                             response_.reset();
                             serializer_.reset();
                             if (close) return derived().do_eof();
                             do_read();
                           });
  }

  beast::flat_buffer buffer_;

 private:
  ConnectionToken token_;
  bool tls_required_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_;
  std::shared_ptr<void> serializer_;
};

class PlainConnection : public HttpConnection<PlainConnection>, public std::enable_shared_from_this<PlainConnection> {
 public:
  PlainConnection(beast::tcp_stream&& stream, beast::flat_buffer&& buffer, ConnectionToken token, bool tls_required)
      : HttpConnection(std::move(buffer), std::move(token), tls_required), stream_(std::move(stream)) {}
  void run() { do_read(); }
  beast::tcp_stream& stream() { return stream_; }
  void do_eof() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

 private:
  beast::tcp_stream stream_;
};

class TlsConnection : public HttpConnection<TlsConnection>, public std::enable_shared_from_this<TlsConnection> {
 public:
  TlsConnection(beast::tcp_stream&& stream, ssl::context& ctx, beast::flat_buffer&& buffer, ConnectionToken token)
      : HttpConnection(std::move(buffer), std::move(token), false), stream_(std::move(stream), ctx) {}
  void run() {
    beast::get_lowest_layer(stream_).expires_after(limits().idle_timeout);
    stream_.async_handshake(ssl::stream_base::server, buffer_.data(),
                            beast::bind_front_handler(&TlsConnection::on_handshake, shared_from_this()));
  }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  void do_eof() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

 private:
  void on_handshake(beast::error_code ec, size_t bytes_used) {
    if (ec) return;
    buffer_.consume(bytes_used);
    do_read();
  }
  beast::ssl_stream<beast::tcp_stream> stream_;
};

// Looks at the first bytes: a TLS ClientHello or plain HTTP.
class Detector : public std::enable_shared_from_this<Detector> {
 public:
  Detector(tcp::socket&& socket, ConnectionToken token) : stream_(std::move(socket)), token_(std::move(token)) {}
  void run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Detector::on_run, shared_from_this()));
  }

 private:
  void on_run() {
    stream_.expires_after(token_.shared().limits.idle_timeout);
    beast::async_detect_ssl(stream_, buffer_, beast::bind_front_handler(&Detector::on_detect, shared_from_this()));
  }
  void on_detect(beast::error_code ec, bool tls) {
    if (ec) return;
    ssl::context* ctx = token_.shared().tls;
    if (tls) {
      if (!ctx) return;  // no certificate: TLS cannot be spoken
      std::make_shared<TlsConnection>(std::move(stream_), *ctx, std::move(buffer_), std::move(token_))->run();
      return;
    }
    const bool tls_required = ctx != nullptr;
    std::make_shared<PlainConnection>(std::move(stream_), std::move(buffer_), std::move(token_), tls_required)->run();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  ConnectionToken token_;
};

}  // namespace

class HttpServer::Listener : public std::enable_shared_from_this<HttpServer::Listener> {
 public:
  Listener(asio::io_context& ioc, const tcp::endpoint& endpoint, std::shared_ptr<Shared> shared)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), shared_(std::move(shared)) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }
  void accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }
  void stop() {
    asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors, most likely: try again a little later, not in a tight loop.
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e) self->accept();
      });
      return;
    }
    {
      if (shared_->connections.load() >= shared_->limits.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);  // over the limit: closed at once
      } else {
        std::make_shared<Detector>(std::move(socket), ConnectionToken(shared_))->run();
      }
    }
    accept();
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_{acceptor_.get_executor()};
  std::shared_ptr<Shared> shared_;
};

HttpServer::HttpServer(asio::io_context& ioc, const tcp::endpoint& endpoint, ssl::context* tls, ServerLimits limits,
                       Handler handler)
    : workers_(std::make_unique<asio::thread_pool>(static_cast<size_t>(std::max(1, limits.worker_threads)))),
      shared_(std::make_shared<Shared>()) {
  shared_->handler = std::move(handler);
  shared_->limits = limits;
  shared_->tls = tls;
  shared_->workers = workers_.get();
  listener_ = std::make_shared<Listener>(ioc, endpoint, shared_);
}

HttpServer::~HttpServer() {
  workers_->stop();
  workers_->join();
}
void HttpServer::start() { listener_->accept(); }
void HttpServer::stop() { listener_->stop(); }
tcp::endpoint HttpServer::local_endpoint() const { return listener_->local_endpoint(); }
int HttpServer::open_connections() const { return shared_->connections.load(); }

}  // namespace callrec::service
