// The report page of a recording (`callrec report`'s page, report/), as the service
// serves it at GET /callrec/recordings/{recordingId}/report (docs/service.md).
//
// The page shows the chunks that are finished (their metadata JSON written): all of
// them after the stop, those written so far while the recording runs. Making it decodes
// the pictures it shows and hashes every chunk: seconds for an hour, so it is made on the
// HTTP server's worker threads (HttpResponse::deferred), never on an I/O thread.
//
// Its ETag is a fingerprint of what the page is made from: the names, sizes and
// modification times of the recording's JSON files and of the chunk files beside them
// (the chunk being written has no JSON yet and does not count), and whether the
// recording still runs. A request whose If-None-Match holds it gets 304 without any page
// being made; the last few pages made are kept in memory by fingerprint, so asking again
// for an unchanged recording costs a directory listing.
//
// Threading: every method may be called from any thread; the jobs hold the cache by a
// shared_ptr, so they may outlive this object.
#pragma once

#include <cstddef>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "callrec/service/http_exchange.h"

namespace callrec::service {

struct ReportSource {
  std::string recording_id;
  std::filesystem::path dir;  // the recording's output directory
  bool active = false;        // still recording (or stopping): the page may change any moment
};

// "report-" and 22 Base64Url characters (128 bits of a SHA-256 over the listing).
std::string report_fingerprint(const ReportSource& source);

class ReportPages {
 public:
  // `max_pages` pages of at most `max_bytes` in all are kept.
  explicit ReportPages(size_t max_pages = 4, size_t max_bytes = 32u << 20);

  // 304 when `if_none_match` holds the page's ETag, the kept page when there is one,
  // otherwise a response whose `deferred` job makes the page. The job answers 409
  // (ReportNotReady) while a running recording has no finished chunk, 404
  // (ReportNotFound) when a stopped one has none.
  HttpResponse answer(const ReportSource& source, std::string_view if_none_match) const;

 private:
  struct Cache;
  std::shared_ptr<Cache> cache_;
};

}  // namespace callrec::service
