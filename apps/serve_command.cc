// callrec serve --listen ADDR:PORT --storage DIR --access-key-file FILE
//               [--tls-cert FILE --tls-key FILE] [--event-webhook URL]... [--retention 48h]
//               [--public-url URL] [--max-chunk-bytes N] [--threads N]
//
// The recording service (docs/service.md): the reference service's REST routes and
// today's, HMAC-authenticated, over TLS; recordings of calls whose participants join
// through the service; chunks kept in --storage for --retention; events delivered at
// least once. Without a certificate it binds to loopback only. SIGINT/SIGTERM stop every
// recording cleanly (last chunk and events written) and exit 0. After a SIGKILL, the
// next start completes the interrupted recordings.
// Exit status: 0 stopped by a signal, 1 could not start (a one-line message says why).
#include <csignal>
#include <iostream>
#include <memory>
#include <regex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include "callrec/core/error.h"
#include "callrec/service/chunk_store.h"
#include "callrec/service/event_outbox.h"
#include "callrec/service/hmac_auth.h"
#include "callrec/service/http_server.h"
#include "callrec/service/http_url.h"
#include "callrec/service/rtp_media.h"
#include "callrec/service/recording_service.h"
#include "callrec/service/router.h"
#include "command.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::cli {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct ServeOptions {
  std::string listen;
  std::filesystem::path storage;
  std::filesystem::path access_key_file;
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  std::vector<std::string> webhooks;
  std::string retention = "48h";
  std::string public_url;
  uint64_t max_chunk_bytes = 512ULL * 1024 * 1024;
  int threads = 2;
};

// "48h", "90m", "30s", "2d".
std::chrono::seconds parse_duration(const std::string& text) {
  static const std::regex re(R"(^([0-9]{1,7})(s|m|h|d)$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) throw Error("--retention " + text + ": expected a number and s, m, h or d (48h)");
  const int64_t n = std::stoll(m[1]);
  const char unit = m[2].str()[0];
  const int64_t per = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
  if (n <= 0) throw Error("--retention " + text + ": must be positive");
  return std::chrono::seconds(n * per);
}

tcp::endpoint parse_listen(const std::string& text) {
  // ADDR:PORT, with [v6]:PORT for IPv6.
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    throw Error("--listen " + text + ": expected ADDR:PORT (127.0.0.1:8443, [::1]:8443)");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw Error("--listen " + text + ": \"" + host + "\" is not an IP address");
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    throw Error("--listen " + text + ": bad port");
  return {address, static_cast<unsigned short>(std::stoi(port))};
}

int serve(const ServeOptions& o) {
  av_log_set_level(AV_LOG_ERROR);
  const tcp::endpoint endpoint = parse_listen(o.listen);
  const bool tls = !o.tls_cert.empty() || !o.tls_key.empty();
  if (tls && (o.tls_cert.empty() || o.tls_key.empty())) throw Error("--tls-cert and --tls-key go together");
  if (!tls && !endpoint.address().is_loopback())
    throw Error("--listen " + o.listen + ": without --tls-cert/--tls-key the service binds to loopback only");
  for (const auto& hook : o.webhooks) {
    std::string why;
    if (!service::parse_http_url(hook, &why)) throw Error("--event-webhook " + hook + ": " + why);
  }
  const std::chrono::seconds retention = parse_duration(o.retention);
  if (o.threads < 1 || o.threads > 64) throw Error("--threads must be 1 to 64");

  const service::HmacAuthenticator auth(service::load_access_key(o.access_key_file));
  std::unique_ptr<asio::ssl::context> tls_context;
  if (tls) {
    tls_context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    boost::system::error_code ec;
    tls_context->use_certificate_chain_file(o.tls_cert.string(), ec);
    if (ec) throw Error(o.tls_cert.string() + ": cannot load the certificate: " + ec.message());
    tls_context->use_private_key_file(o.tls_key.string(), asio::ssl::context::pem, ec);
    if (ec) throw Error(o.tls_key.string() + ": cannot load the private key: " + ec.message());
  }
  std::error_code fec;
  std::filesystem::create_directories(o.storage, fec);
  if (fec) throw Error(o.storage.string() + ": cannot create the storage directory: " + fec.message());

  asio::io_context ioc(o.threads);
  service::ServerLimits limits;
  // The listener first: the actual port (with :0) names the download locations.
  std::unique_ptr<service::HttpServer> server;
  const service::Router* router_ptr = nullptr;
  server = std::make_unique<service::HttpServer>(ioc, endpoint, tls_context.get(), limits,
                                                 [&router_ptr](const service::HttpRequest& req) {
                                                   return router_ptr->handle(req);
                                                 });
  const tcp::endpoint bound = server->local_endpoint();
  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = "[" + host + "]";
  const std::string base_url =
      !o.public_url.empty() ? o.public_url : (tls ? "https://" : "http://") + host + ":" + std::to_string(bound.port());

  service::ChunkStore store(retention);
  service::EventOutbox outbox({.dir = o.storage / "outbox"}, service::http_event_sender());
  service::RecordingService recordings(
      {.storage = o.storage,
       .public_base_url = base_url,
       .webhooks = o.webhooks,
       .retention = retention,
       .max_chunk_bytes = o.max_chunk_bytes,
       .sweep_interval = std::clamp<std::chrono::milliseconds>(retention / 10, std::chrono::seconds(1),
                                                               std::chrono::seconds(60))},
      &service::make_engine_session, std::make_shared<service::RtpMedia>(), outbox, store);
  recordings.start();
  outbox.start();
  const service::Router router(recordings, auth);
  router_ptr = &router;
  // SIGINT/SIGTERM are caught from before the service says it listens: a supervisor
  // may stop it the moment it is ready, and that must be a clean stop too.
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  std::thread stopper;
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    server->stop();
    // Stopping waits for the sessions' last chunks: not on an io thread.
    stopper = std::thread([&] {
      std::cerr << "callrec serve: stopping " << recordings.running_recordings() << " recording(s)" << std::endl;
      recordings.shutdown(std::chrono::minutes(2));
      outbox.drain(std::chrono::seconds(3));
      ioc.stop();
    });
  });
  server->start();
  std::cerr << "callrec serve: listening on " << (tls ? "https://" : "http://") << host << ":" << bound.port()
            << " (storage " << o.storage.string() << ", retention " << retention.count() << " s)" << std::endl;
  if (o.public_url.empty() && bound.address().is_unspecified())
    std::cerr << "callrec serve: warning: the download locations in events start with " << base_url
              << ", which clients elsewhere cannot reach: give --public-url (the name clients reach the service by)"
              << std::endl;

  std::vector<std::thread> threads;
  for (int i = 1; i < o.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  if (stopper.joinable()) stopper.join();
  std::cerr << "callrec serve: stopped (" << outbox.pending() << " event(s) left to deliver at the next start)"
            << std::endl;
  return 0;
}

}  // namespace

CommandRunner add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the recording service (REST routes, events, storage)");
  cmd->add_option("--listen", o->listen, "ADDR:PORT to listen on (port 0: any free port)")->required();
  cmd->add_option("--storage", o->storage, "Directory of the recordings and undelivered events")->required();
  cmd->add_option("--access-key-file", o->access_key_file, "File holding the Base64 access key")->required();
  cmd->add_option("--tls-cert", o->tls_cert, "PEM certificate chain (with --tls-key: HTTPS)");
  cmd->add_option("--tls-key", o->tls_key, "PEM private key");
  cmd->add_option("--event-webhook", o->webhooks, "URL receiving RecordingFileStatusUpdated (repeatable)");
  cmd->add_option("--retention", o->retention, "How long chunks are kept (48h, 90m, 30s, 2d)");
  cmd->add_option("--public-url", o->public_url, "Base URL of the download locations (default: the listen address)");
  cmd->add_option("--max-chunk-bytes", o->max_chunk_bytes, "Chunk size limit of every recording")
      ->check(CLI::Range(uint64_t{16384}, uint64_t{1} << 40));
  cmd->add_option("--threads", o->threads, "HTTP threads (1-64, default 2)");
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    try {
      return serve(*o);
    } catch (const std::exception& e) {
      std::cerr << "callrec: error: " << e.what() << "\n";
      return 1;
    }
  };
}

}  // namespace callrec::cli
