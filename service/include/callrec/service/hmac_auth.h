// HMAC-SHA256 request authentication, as the reference service's clients sign requests
// (@azure/communication-common's access key policy, which @azure/communication-call-
// automation 1.5.1 uses for every call, downloads and deletes included):
//
//   x-ms-date:           Thu, 03 Dec 2026 09:20:48 GMT         (RFC 7231 IMF-fixdate)
//   x-ms-content-sha256: base64(SHA-256(body))
//   Authorization:       HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=S
//   S = base64(HMAC-SHA256(key, METHOD "\n" path?query "\n" date ";" host ";" content-hash))
//
// `host` is the endpoint's host the client signed for: for downloads and deletes the
// client sends to the chunk's location but signs for its configured endpoint and says
// so in `x-ms-host`, so x-ms-host, when present, is the host that was signed; otherwise
// the Host header. The body's hash is checked against the body; the date must lie within
// `max_clock_skew` of now (a captured request cannot be replayed later); signatures are
// compared in constant time.
//
// Threading: immutable after construction; verify() may run on any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace callrec::service {

// What of a request the signature covers.
struct SignedRequestView {
  std::string_view method;   // "GET"
  std::string_view target;   // path and query as on the request line: "/calling/recordings?api-version=x"
  std::string_view body;
  // The value of a header (case-insensitive name), nullopt when absent.
  std::function<std::optional<std::string_view>(std::string_view name)> header;
};

struct SignedHeaders {
  std::string date;            // x-ms-date
  std::string content_sha256;  // x-ms-content-sha256
  std::string authorization;   // Authorization
};

class HmacAuthenticator {
 public:
  explicit HmacAuthenticator(std::vector<uint8_t> key,
                             std::chrono::seconds max_clock_skew = std::chrono::minutes(5));

  // nullopt when the request is authentic; otherwise why not, in one line.
  std::optional<std::string> verify(const SignedRequestView& request, std::chrono::system_clock::time_point now) const;

  // The headers a client sends (for tests, the fuzzer and tools).
  SignedHeaders sign(std::string_view method, std::string_view target, std::string_view host,
                     std::string_view body, std::chrono::system_clock::time_point at) const;

 private:
  std::vector<uint8_t> key_;
  std::chrono::seconds max_skew_;
};

// RFC 7231 IMF-fixdate ("Thu, 03 Dec 2026 09:20:48 GMT") both ways; the parser also
// takes the obsolete RFC 850 and asctime forms, as RFC 7231 asks of recipients.
std::string format_http_date(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

// Reads the access key: a file holding the Base64 key, or a connection string
// "endpoint=...;accesskey=KEY". Throws callrec::Error naming the file.
std::vector<uint8_t> load_access_key(const std::filesystem::path& file);

}  // namespace callrec::service
