// One outgoing POST (event delivery), over Boost.Beast: http or https (the peer's
// certificate verified against the system's trust store, or SSL_CERT_FILE), a deadline
// on the whole exchange, no redirect followed, the response body ignored past 64 KiB.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "callrec/service/http_url.h"

namespace callrec::service {

struct PostResult {
  int status = 0;       // the HTTP status; 0 when no response came
  std::string error;    // why not, when status == 0
};

PostResult http_post(const HttpUrl& url, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::chrono::milliseconds timeout);

}  // namespace callrec::service
