// The routes (docs/service.md lists them): authentication, then the reference service's
// routes, today's routes, the participants routes and downloads, each turned into calls
// on RecordingService. No sockets here, so every route is testable as a function.
//
// Threading: handle() may run on several threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "callrec/service/hmac_auth.h"
#include "callrec/service/http_exchange.h"
#include "callrec/service/recording_service.h"
#include "callrec/service/report_pages.h"

namespace callrec::service {

struct Target;

class Router {
 public:
  using Now = std::function<std::chrono::system_clock::time_point()>;
  Router(RecordingService& service, const HmacAuthenticator& auth, Now now = &std::chrono::system_clock::now);

  HttpResponse handle(const HttpRequest& request) const;

 private:
  HttpResponse route(const HttpRequest& request) const;
  HttpResponse route_download(const HttpRequest& request, const Target& target) const;

  RecordingService& service_;
  const HmacAuthenticator& auth_;
  const Now now_;
  const std::shared_ptr<const ReportPages> reports_;
};

}  // namespace callrec::service
