// The HTTP(S) listener: Boost.Beast in the shape of its advanced_server_flex example.
// Each connection is one small object held by shared_from_this: it detects TLS or plain
// HTTP from the first bytes, reads one request at a time through a parser with header
// and body limits, hands it to the handler (the Router) and writes the answer. Every read
// and every write has a deadline: a client that sends nothing (or too slowly) for
// `idle_timeout` is dropped, as is one that reads nothing of a response for
// `write_timeout`. Connections beyond `max_connections` are closed at once. Protocol
// errors get the error model (400, 413 for a body over the limit, 431 for headers over
// it) and the connection is closed.
//
// With a TLS context, plain-HTTP connections are answered 400 (TlsRequired); without
// one, TLS connections are closed.
//
// A response with `deferred` work (HttpResponse) is made on the server's own worker
// threads (`worker_threads`, a Boost.Asio thread_pool), never on an I/O thread, and
// sent from the connection's strand when it is ready; the connection reads nothing
// meanwhile. At most `max_deferred` such jobs wait or run at once; beyond that the
// answer is 503 (ServiceBusy, Retry-After) at once.
//
// Threading: the connections run on the io_context's threads (a strand each); the
// handler may run on several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "callrec/service/http_exchange.h"

namespace callrec::service {

struct ServerLimits {
  size_t header_bytes = 16 * 1024;
  uint64_t body_bytes = 1024 * 1024;
  int max_connections = 512;
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  int worker_threads = 1;
  int max_deferred = 8;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  HttpServer(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint,
             boost::asio::ssl::context* tls, ServerLimits limits, Handler handler);
  // Waits for the deferred job running, if any (the jobs waiting are dropped).
  ~HttpServer();
  // Starts accepting.
  void start();
  // Stops accepting (open connections end on their own).
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  int open_connections() const;

  struct Shared;  // what the listener and the connections share (http_server.cc)

 private:
  class Listener;
  // Owned here, not by Shared: a job may hold the last reference to Shared, and a pool
  // cannot be joined from one of its own threads.
  std::unique_ptr<boost::asio::thread_pool> workers_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Listener> listener_;
};

}  // namespace callrec::service
