#include "callrec/service/http_url.h"

#include <algorithm>
#include <cctype>

namespace callrec::service {

namespace {
std::optional<HttpUrl> fail(std::string* why, const char* reason) {
  if (why) *why = reason;
  return std::nullopt;
}
bool iprefix(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (size_t i = 0; i < p.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != p[i]) return false;
  return true;
}
}  // namespace

std::string HttpUrl::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if (port != (tls ? "443" : "80")) h += ":" + port;
  return h;
}

std::optional<HttpUrl> parse_http_url(std::string_view text, std::string* why) {
  if (text.size() > 2048) return fail(why, "the URL is longer than 2048 characters");
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f; }))
    return fail(why, "the URL contains spaces, control characters or non-ASCII bytes (percent-encode them)");
  HttpUrl url;
  if (iprefix(text, "https://")) {
    url.tls = true;
    text.remove_prefix(8);
  } else if (iprefix(text, "http://")) {
    text.remove_prefix(7);
  } else {
    return fail(why, "only http:// and https:// URLs are accepted");
  }
  if (text.find('#') != std::string_view::npos) return fail(why, "the URL has a fragment");
  const size_t authority_end = text.find_first_of("/?");
  const std::string_view authority = text.substr(0, authority_end);
  std::string_view rest = authority_end == std::string_view::npos ? std::string_view{} : text.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return fail(why, "the URL has user information");
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail(why, "unterminated IPv6 address in the URL");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(why, "garbage after the IPv6 address in the URL");
      port = after.substr(1);
    }
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
      return fail(why, "bad IPv6 address in the URL");
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (host.empty()) return fail(why, "the URL has no host");
    if (host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=") !=
        std::string_view::npos)
      return fail(why, "bad host in the URL");
  }
  if (!port.empty() || authority.find(':') != std::string_view::npos) {
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
      return fail(why, "bad port in the URL");
    const int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return fail(why, "bad port in the URL");
    url.port = std::to_string(p);
  } else {
    url.port = url.tls ? "443" : "80";
  }
  url.host = std::string(host);
  if (rest.empty() || rest.front() == '?') url.target = "/" + std::string(rest);
  else url.target = std::string(rest);
  return url;
}

}  // namespace callrec::service
