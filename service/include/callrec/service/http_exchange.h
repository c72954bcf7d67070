// What the routes take and give, independent of sockets: a parsed request (Beast's) and
// a response whose body is either text or a slice of an open file (a download).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/core/file.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace callrec::service {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// An open file and the bytes of it to send. The file is opened by the route, so a chunk
// deleted meanwhile is still sent whole.
struct FileSlice {
  boost::beast::file file;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct HttpResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                 // used when `file` is null
  std::shared_ptr<FileSlice> file;  // a download
  uint64_t head_length = 0;         // HEAD: the Content-Length a GET would have
  bool head = false;
  // Work too long for an I/O thread (a report page: decoding and hashing, up to seconds):
  // when set, the server runs it on its worker threads and sends what it returns instead
  // of this response. It must not refer to the router or the service (it may run after
  // they are gone): it captures what it needs by value.
  std::function<HttpResponse()> deferred;
};

// The error model: {"error": {"code", "message", "target", "details": []}}.
HttpResponse error_response(unsigned status, const std::string& code, const std::string& message,
                            const std::string& target = {});

}  // namespace callrec::service
