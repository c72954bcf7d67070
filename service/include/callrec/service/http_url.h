// An absolute http(s) URL, as callback and webhook targets are given. Only what an
// outgoing POST needs: scheme, host, port and the request target.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace callrec::service {

struct HttpUrl {
  bool tls = false;       // https
  std::string host;       // without brackets for IPv6 literals
  std::string port;       // "80" / "443" when the URL has none
  std::string target;     // path and query, "/" at least
  std::string host_header() const;  // "host" or "host:port", IPv6 bracketed
};

// nullopt (with `why` set) unless `text` is an absolute http:// or https:// URL with a
// host, no user info, no fragment, a port in 1-65535, at most 2048 characters, and no
// control characters, spaces or non-ASCII bytes.
std::optional<HttpUrl> parse_http_url(std::string_view text, std::string* why = nullptr);

}  // namespace callrec::service
