#include "callrec/service/report_pages.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "callrec/core/error.h"
#include "callrec/report/report.h"
#include "callrec/service/crypto.h"

namespace callrec::service {

namespace fs = std::filesystem;

namespace {

// The page's own policy (its meta tag says the same): nothing loads, no script runs.
constexpr const char* kContentSecurityPolicy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

void add_page_headers(HttpResponse& r, const std::string& etag, bool active) {
  r.headers.emplace_back("ETag", "\"" + etag + "\"");
  // While the recording runs a new chunk may change the page at any moment: not kept.
  // Once it stopped, a chunk deleted (or expired) still changes it: revalidated.
  r.headers.emplace_back("Cache-Control", active ? "no-store" : "private, no-cache");
}

bool etag_matches(std::string_view if_none_match, const std::string& etag) {
  if (if_none_match.empty()) return false;
  if (if_none_match == "*") return true;
  return if_none_match.find("\"" + etag + "\"") != std::string_view::npos;
}

}  // namespace

std::string report_fingerprint(const ReportSource& source) {
  std::vector<std::string> lines;
  std::error_code ec;
  auto describe = [&](const fs::path& p) {
    std::error_code e;
    const auto size = fs::file_size(p, e);
    if (e) return std::string(" -");
    const auto mtime = fs::last_write_time(p, e);
    return " " + std::to_string(size) + " " + std::to_string(e ? 0 : mtime.time_since_epoch().count());
  };
  for (fs::directory_iterator it(source.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.front() == '.' || !name.ends_with(".json")) continue;
    // A chunk's JSON stands for the chunk: its media file is described with it.
    fs::path media = it->path();
    media.replace_extension(".mp4");
    lines.push_back(name + describe(it->path()) + " | " + describe(media));
  }
  std::sort(lines.begin(), lines.end());
  std::ostringstream text;
  text << source.recording_id << (source.active ? " active\n" : " stopped\n");
  for (const auto& l : lines) text << l << "\n";
  const Digest d = sha256(text.str());
  return "report-" + base64url_encode(std::span<const uint8_t>(d.data(), 16));
}

struct ReportPages::Cache {
  size_t max_pages;
  size_t max_bytes;
  std::mutex mu;
  std::list<std::pair<std::string, std::shared_ptr<const std::string>>> pages;  // newest first; guarded by mu

  std::shared_ptr<const std::string> find(const std::string& etag) {
    std::lock_guard lock(mu);
    for (auto it = pages.begin(); it != pages.end(); ++it)
      if (it->first == etag) {
        pages.splice(pages.begin(), pages, it);
        return it->second;
      }
    return nullptr;
  }
  void keep(const std::string& etag, std::shared_ptr<const std::string> page) {
    if (page->size() > max_bytes) return;
    std::lock_guard lock(mu);
    pages.remove_if([&](const auto& p) { return p.first == etag; });
    pages.emplace_front(etag, std::move(page));
    size_t bytes = 0, count = 0;
    for (auto it = pages.begin(); it != pages.end();) {
      bytes += it->second->size();
      if (++count > max_pages || bytes > max_bytes) {
        bytes -= it->second->size();
        it = pages.erase(it);
      } else {
        ++it;
      }
    }
  }
};

ReportPages::ReportPages(size_t max_pages, size_t max_bytes) : cache_(std::make_shared<Cache>()) {
  cache_->max_pages = max_pages;
  cache_->max_bytes = max_bytes;
}

namespace {

HttpResponse page_response(const std::string& page, const std::string& etag, bool active) {
  HttpResponse r;
  r.status = 200;
  r.body = page;
  r.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  r.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  add_page_headers(r, etag, active);
  return r;
}

}  // namespace

HttpResponse ReportPages::answer(const ReportSource& source, std::string_view if_none_match) const {
  const std::string etag = report_fingerprint(source);
  if (etag_matches(if_none_match, etag)) {
    HttpResponse r;
    r.status = 304;
    add_page_headers(r, etag, source.active);
    return r;
  }
  if (const auto page = cache_->find(etag)) return page_response(*page, etag, source.active);
  HttpResponse r;
  r.deferred = [cache = cache_, source]() -> HttpResponse {
    // Taken again: a chunk may have been finished while the job waited. Another job may
    // have made the page meanwhile.
    const std::string etag = report_fingerprint(source);
    if (const auto page = cache->find(etag)) return page_response(*page, etag, source.active);
    std::shared_ptr<const std::string> page;
    try {
      page = std::make_shared<const std::string>(report::make_report_html(source.dir));
    } catch (const Error&) {
      // Not a recording (yet): no chunk is finished.
      if (source.active)
        return error_response(409, "ReportNotReady",
                              "recording \"" + source.recording_id +
                                  "\" has no finished chunk yet: its report shows finished chunks (a chunk is "
                                  "finished when it reaches the size limit or the recording stops)",
                              "recordingId");
      return error_response(404, "ReportNotFound",
                            "recording \"" + source.recording_id + "\" holds no chunk to report on", "recordingId");
    }
    cache->keep(etag, page);
    return page_response(*page, etag, source.active);
  };
  return r;
}

}  // namespace callrec::service
