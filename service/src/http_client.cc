#include "callrec/service/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include <optional>

namespace callrec::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// Runs the exchange on a private io_context; the stream's expiry bounds every step and
// the io_context's run_for() bounds the whole.
template <class Stream>
PostResult exchange(asio::io_context& ioc, Stream& stream, const HttpUrl& url, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::chrono::milliseconds timeout) {
  http::request<http::string_body> req{http::verb::post, url.target, 11};
  req.set(http::field::host, url.host_header());
  req.set(http::field::user_agent, "callrec-service");
  req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  req.keep_alive(false);

  PostResult result;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  bool done = false;
  auto fail = [&](const char* what, beast::error_code ec) {
    result.error = std::string(what) + ": " + ec.message();
    done = true;
  };
  auto on_read = [&](beast::error_code ec, size_t) {
    // A response whose body is cut off or too large still told its status.
    if (parser.is_header_done()) result.status = static_cast<int>(parser.get().result_int());
    else if (ec) fail("reading the response", ec);
    done = true;
  };
  auto on_write = [&](beast::error_code ec, size_t) {
    if (ec) return fail("sending the request", ec);
    http::async_read(stream, buffer, parser, on_read);
  };
  auto send = [&] { http::async_write(stream, req, on_write); };

  auto& layer = beast::get_lowest_layer(stream);
  tcp::resolver resolver(ioc);
  layer.expires_after(timeout);
  resolver.async_resolve(url.host, url.port, [&](beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail("resolving the host", ec);
    layer.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) return fail("connecting", ec2);
      if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
        stream.async_handshake(ssl::stream_base::client, [&](beast::error_code ec3) {
          if (ec3) return fail("TLS handshake", ec3);
          send();
        });
      } else {
        send();
      }
    });
  });
  ioc.run_for(timeout + std::chrono::milliseconds(100));
  if (!done) result.error = "timed out";
  return result;
}

}  // namespace

PostResult http_post(const HttpUrl& url, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  if (!url.tls) {
    beast::tcp_stream stream(ioc);
    return exchange(ioc, stream, url, body, headers, timeout);
  }
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_callback(ssl::host_name_verification(url.host));
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) return {0, "setting the TLS server name"};
  return exchange(ioc, stream, url, body, headers, timeout);
}

}  // namespace callrec::service
