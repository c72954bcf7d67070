#include "callrec/service/router.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "callrec/service/api_error.h"
#include "callrec/service/byte_range.h"
#include "callrec/service/http_url.h"

namespace callrec::service {

namespace http = boost::beast::http;
using nlohmann::json;

HttpResponse error_response(unsigned status, const std::string& code, const std::string& message,
                            const std::string& target) {
  HttpResponse r;
  r.status = status;
  json error = {{"code", code}, {"message", message}, {"details", json::array()}};
  error["target"] = target.empty() ? json(nullptr) : json(target);
  // Messages quote what the request said, which need not be UTF-8: replaced, never thrown.
  r.body = json{{"error", error}}.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  return r;
}

namespace {

constexpr size_t kMaxContextChars = 4096;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding (RFC 3986); `plus_is_space` for query values. Control characters
// and malformed escapes are refused.
std::string decode(std::string_view s, bool plus_is_space, const char* what) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
        throw ApiError(400, "InvalidRequest", std::string("malformed percent-encoding in the ") + what);
      c = static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      throw ApiError(400, "InvalidRequest", std::string("control character in the ") + what);
    out += c;
  }
  return out;
}

}  // namespace

struct Target {
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query;
  std::optional<std::string> query_value(std::string_view name) const {
    for (const auto& [k, v] : query)
      if (k == name) return v;
    return std::nullopt;
  }
};

namespace {

Target parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/')
    throw ApiError(400, "InvalidRequest", "the request target is not an absolute path");
  Target t;
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    t.segments.push_back(decode(path.substr(0, slash), false, "path"));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (t.segments.size() > 16) throw ApiError(404, "UnknownRoute", "no such route");
  }
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    t.query.emplace_back(decode(pair.substr(0, eq), true, "query"),
                         eq == std::string_view::npos ? std::string{} : decode(pair.substr(eq + 1), true, "query"));
    if (t.query.size() > 32) throw ApiError(400, "InvalidRequest", "too many query parameters");
  }
  return t;
}

json parse_body(const HttpRequest& req) {
  const std::string& body = req.body();
  if (body.empty()) return json::object();
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ApiError(400, "InvalidJson", "the request body is not valid JSON");
  if (!j.is_object()) throw ApiError(400, "InvalidJson", "the request body must be a JSON object");
  return j;
}

// An optional string field; 400 naming the field when it is another type or too long.
std::string string_field(const json& body, const char* name, size_t max_chars, bool required = false) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) throw ApiError(400, "MissingField", std::string(name) + " is required", name);
    return {};
  }
  if (!it->is_string()) throw ApiError(400, "InvalidField", std::string(name) + " must be a string", name);
  std::string s = it->get<std::string>();
  if (s.size() > max_chars)
    throw ApiError(400, "InvalidField", std::string(name) + " is longer than " + std::to_string(max_chars) +
                                            " characters",
                   name);
  if (required && s.empty()) throw ApiError(400, "MissingField", std::string(name) + " must not be empty", name);
  return s;
}

std::string callback_field(const json& body, bool required) {
  std::string uri = string_field(body, "recordingStateCallbackUri", 2048, required);
  if (!uri.empty()) {
    std::string why;
    if (!parse_http_url(uri, &why))
      throw ApiError(400, "InvalidField", "recordingStateCallbackUri: " + why, "recordingStateCallbackUri");
  }
  return uri;
}

// Ids of recordings: what the service generates (UUIDs), checked before any lookup.
void check_recording_id(std::string_view id) {
  if (!is_valid_document_id(id))
    throw ApiError(400, "InvalidRecordingId", "the recording id may only hold letters, digits, '-' and '_'",
                   "recordingId");
}

std::string participant_id_field(std::string_view id) {
  if (id.empty() || id.size() > 256)
    throw ApiError(400, "InvalidParticipantId", "participantId must have 1 to 256 characters", "participantId");
  for (const char c : id)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '/' || c == '\\')
      throw ApiError(400, "InvalidParticipantId", "participantId holds a control character or a slash",
                     "participantId");
  return std::string(id);
}

std::string repeatability_id(const HttpRequest& req) {
  const auto it = req.find("Repeatability-Request-ID");
  if (it == req.end()) return {};
  const std::string_view v = it->value();
  if (v.empty() || v.size() > 128 ||
      !std::all_of(v.begin(), v.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; }))
    throw ApiError(400, "InvalidHeader", "Repeatability-Request-ID must be a UUID", "Repeatability-Request-ID");
  return std::string(v);
}

HttpResponse json_response(unsigned status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  return r;
}

HttpResponse empty_response(unsigned status) {
  HttpResponse r;
  r.status = status;
  return r;
}

const char* state_name(RecordingState s) { return s == RecordingState::kActive ? "active" : "inactive"; }

void require_api_version(const Target& t) {
  const auto v = t.query_value("api-version");
  if (!v || v->empty())
    throw ApiError(400, "MissingApiVersion", "the api-version query parameter is required", "api-version");
  // yyyy-mm-dd with an optional "-preview".
  const bool ok = v->size() >= 10 && v->size() <= 24 && std::isdigit(static_cast<unsigned char>((*v)[0])) &&
                  (*v)[4] == '-' && (*v)[7] == '-' &&
                  std::all_of(v->begin(), v->end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
  if (!ok) throw ApiError(400, "InvalidApiVersion", "api-version must look like 2023-10-15", "api-version");
}

// Today's start: callLocator and the recording's kind. callrec makes one kind of
// recording: mixed audio and video in MP4; anything else is refused by name.
RecordingService::StartOptions today_start_options(const json& body) {
  RecordingService::StartOptions o;
  const auto locator = body.find("callLocator");
  std::string call;
  if (locator != body.end() && !locator->is_null()) {
    if (!locator->is_object()) throw ApiError(400, "InvalidField", "callLocator must be an object", "callLocator");
    const std::string kind = string_field(*locator, "kind", 64);
    const char* field = kind == "groupCallLocator" ? "groupCallId" : kind == "roomCallLocator" ? "roomId"
                                                                                                : "serverCallId";
    if (!kind.empty() && kind != "groupCallLocator" && kind != "roomCallLocator" && kind != "serverCallLocator")
      throw ApiError(400, "InvalidField", "callLocator.kind \"" + kind.substr(0, 64) + "\" is not known",
                     "callLocator.kind");
    if (kind.empty()) {
      for (const char* f : {"serverCallId", "groupCallId", "roomId"})
        if (locator->contains(f)) field = f;
    }
    call = string_field(*locator, field, 1024);
    if (call.empty())
      throw ApiError(400, "MissingField", std::string("callLocator.") + field + " is required",
                     std::string("callLocator.") + field);
    o.call_id = canonical_call_id(call, "callLocator");
  } else {
    call = string_field(body, "callConnectionId", 1024);
    if (call.empty()) throw ApiError(400, "MissingField", "callLocator is required", "callLocator");
    o.call_id = canonical_call_id(call, "callConnectionId");
  }
  auto refuse_unless = [&](const char* name, std::initializer_list<const char*> accepted, const char* what) {
    const std::string v = string_field(body, name, 64);
    if (v.empty()) return;
    for (const char* a : accepted)
      if (iequals(v, a)) return;
    throw ApiError(400, "UnsupportedRecordingType",
                   std::string(name) + " \"" + v + "\" is not supported: callrec records " + what, name);
  };
  refuse_unless("recordingContentType", {"audioVideo"}, "audio and video (audioVideo)");
  refuse_unless("recordingChannelType", {"mixed"}, "one mixed channel (mixed)");
  refuse_unless("recordingFormatType", {"mp4"}, "MP4 (mp4)");
  for (const char* name : {"channelAffinity", "audioChannelParticipantOrdering"}) {
    const auto it = body.find(name);
    if (it != body.end() && !it->is_null() && !(it->is_array() && it->empty()))
      throw ApiError(400, "UnsupportedRecordingType",
                     std::string(name) + " applies to unmixed recordings, which callrec does not make", name);
  }
  if (const auto it = body.find("externalStorage"); it != body.end() && !it->is_null())
    throw ApiError(400, "UnsupportedRecordingType",
                   "externalStorage is not supported: chunks are kept in the service's storage", "externalStorage");
  if (const auto it = body.find("pauseOnStart"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) throw ApiError(400, "InvalidField", "pauseOnStart must be a boolean", "pauseOnStart");
    o.pause_on_start = it->get<bool>();
  }
  o.callback_uri = callback_field(body, false);
  return o;
}

HttpResponse download(const HttpRequest& req, RecordingService& service, const std::string& document_id,
                      bool metadata) {
  if (!is_valid_document_id(document_id))
    throw ApiError(400, "InvalidDocumentId", "the documentId may only hold letters, digits, '-' and '_'",
                   "documentId");
  const auto chunk = service.find_chunk(document_id);
  if (!chunk) throw ApiError(404, "DocumentNotFound", "no chunk \"" + document_id + "\" (deleted or expired?)", "documentId");
  auto slice = std::make_shared<FileSlice>();
  boost::beast::error_code ec;
  slice->file.open((metadata ? chunk->metadata : chunk->media).c_str(), boost::beast::file_mode::scan, ec);
  if (ec) throw ApiError(404, "DocumentNotFound", "chunk \"" + document_id + "\" was deleted", "documentId");
  const uint64_t size = slice->file.size(ec);
  if (ec) throw ApiError(500, "StorageFailed", "cannot read chunk \"" + document_id + "\"");
  HttpResponse r;
  r.head = req.method() == http::verb::head;
  const std::string etag = "\"" + document_id + (metadata ? "-metadata" : "") + "\"";
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Content-Type", metadata ? "application/json; charset=utf-8" : "video/mp4");
  r.headers.emplace_back("Accept-Ranges", "bytes");
  r.headers.emplace_back("Cache-Control", "private, max-age=3600");
  if (const auto inm = req.find(http::field::if_none_match); inm != req.end()) {
    const std::string_view v = inm->value();
    if (v == "*" || v.find(etag) != std::string_view::npos) {
      r.status = 304;
      return r;
    }
  }
  std::optional<std::string_view> range;
  if (const auto it = req.find(http::field::range); it != req.end()) range = it->value();
  // If-Range with another validator: the whole file (RFC 9110 §13.1.5).
  if (const auto ir = req.find(http::field::if_range); range && ir != req.end() && ir->value() != etag) range.reset();
  const RangeRequest rr = parse_byte_range(range, size);
  if (rr.kind == RangeKind::kUnsatisfiable) {
    HttpResponse e = error_response(416, "RangeNotSatisfiable",
                                    "the range starts past the end of the " + std::to_string(size) + "-byte file",
                                    "Range");
    e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    return e;
  }
  if (rr.kind == RangeKind::kPartial) {
    r.status = 206;
    slice->offset = rr.range.first;
    slice->length = rr.range.length;
    r.headers.emplace_back("Content-Range", "bytes " + std::to_string(rr.range.first) + "-" +
                                                std::to_string(rr.range.first + rr.range.length - 1) + "/" +
                                                std::to_string(size));
  } else {
    r.status = 200;
    slice->offset = 0;
    slice->length = size;
  }
  r.head_length = slice->length;
  if (!r.head) r.file = std::move(slice);
  return r;
}

}  // namespace

Router::Router(RecordingService& service, const HmacAuthenticator& auth, Now now)
    : service_(service), auth_(auth), now_(std::move(now)), reports_(std::make_shared<const ReportPages>()) {}

HttpResponse Router::handle(const HttpRequest& req) const {
  try {
    const std::string method(req.method_string());
    const SignedRequestView view{method, req.target(), req.body(), [&req](std::string_view name) -> std::optional<std::string_view> {
                                   const auto it = req.find(name);
                                   if (it == req.end()) return std::nullopt;
                                   return it->value();
                                 }};
    if (const auto why = auth_.verify(view, now_())) {
      HttpResponse r = error_response(401, "Unauthorized", "authentication failed: " + *why, "Authorization");
      r.headers.emplace_back("WWW-Authenticate", "HMAC-SHA256");
      return r;
    }
    return route(req);
  } catch (const ApiError& e) {
    return error_response(static_cast<unsigned>(e.status()), e.code(), e.what(), e.target());
  } catch (const std::exception& e) {
    return error_response(500, "InternalError", std::string("internal error: ") + e.what());
  }
}

HttpResponse Router::route_download(const HttpRequest& req, const Target& t) const {
  const auto& s = t.segments;
  const http::verb m = req.method();
  auto is = [&](size_t i, std::string_view literal) { return s.size() > i && iequals(s[i], literal); };
  if (s.size() >= 3) {
    if (s.size() == 3 && (m == http::verb::get || m == http::verb::head)) return download(req, service_, s[2], false);
    if (s.size() == 4 && is(3, "metadata") && (m == http::verb::get || m == http::verb::head))
      return download(req, service_, s[2], true);
    if (s.size() == 3 && m == http::verb::delete_) {
      if (!is_valid_document_id(s[2]))
        throw ApiError(400, "InvalidDocumentId", "the documentId may only hold letters, digits, '-' and '_'",
                       "documentId");
      if (!service_.delete_chunk(s[2]))
        throw ApiError(404, "DocumentNotFound", "no chunk \"" + s[2] + "\"", "documentId");
      return empty_response(200);
    }
  }

  throw ApiError(404, "UnknownRoute", "no route " + std::string(req.method_string()) + " for downloads");
}

HttpResponse Router::route(const HttpRequest& req) const {
  const Target t = parse_target(req.target());
  // Download errors also carry top-level "status" and "message": the storage host of the
  // reference service answers so, and the 1.5.1 client's downloader reads only those.
  const bool download_route = t.segments.size() >= 2 && iequals(t.segments[0], "recording") &&
                              iequals(t.segments[1], "download");
  if (download_route) {
    try {
      return route_download(req, t);
    } catch (const ApiError& e) {
      HttpResponse r = error_response(static_cast<unsigned>(e.status()), e.code(), e.what(), e.target());
      json body = json::parse(r.body);
      body["status"] = e.status();
      body["message"] = e.what();
      r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
      return r;
    }
  }
  const auto& s = t.segments;
  const http::verb m = req.method();
  auto is = [&](size_t i, std::string_view literal) { return s.size() > i && iequals(s[i], literal); };

  // ---- the reference routes (2021) ----
  if (is(0, "conversations") && s.size() >= 3) {
    const std::string call = canonical_call_id(s[1], "conversationId");
    if (s.size() == 3 && is(2, "Recordings") && m == http::verb::post) {
      const json body = parse_body(req);
      RecordingService::StartOptions o;
      o.call_id = call;
      o.operation_context = string_field(body, "operationContext", kMaxContextChars);
      o.callback_uri = callback_field(body, true);
      o.repeatability_id = repeatability_id(req);
      const auto started = service_.start_recording(o);
      return json_response(200, {{"recordingId", started.recording_id}});
    }
    if (s.size() >= 4 && is(2, "recordings")) {
      const std::string& id = s[3];
      check_recording_id(id);
      if (s.size() == 4 && m == http::verb::get)
        return json_response(200, {{"recordingState", state_name(service_.state(id, &call))}});
      if (s.size() == 4 && m == http::verb::delete_) {
        service_.stop(id, string_field(parse_body(req), "operationContext", kMaxContextChars), &call);
        return empty_response(200);
      }
      if (s.size() == 5 && m == http::verb::post && (is(4, "Pause") || is(4, "Resume"))) {
        const std::string context = string_field(parse_body(req), "operationContext", kMaxContextChars);
        if (is(4, "Pause")) service_.pause(id, context, &call);
        else service_.resume(id, context, &call);
        return empty_response(200);
      }
    }
  }

  // ---- today's routes ----
  if (is(0, "calling") && is(1, "recordings")) {
    if (s.size() == 2 && m == http::verb::post) {
      require_api_version(t);
      const json body = parse_body(req);
      RecordingService::StartOptions o = today_start_options(body);
      o.repeatability_id = repeatability_id(req);
      const auto started = service_.start_recording(o);
      return json_response(200, {{"recordingId", started.recording_id}, {"recordingState", state_name(started.state)}});
    }
    if (s.size() == 3) {
      std::string id = s[2];
      std::string action;
      if (const size_t colon = id.rfind(':'); colon != std::string::npos) {
        action = id.substr(colon + 1);
        id.resize(colon);
      }
      if (action.empty() && m == http::verb::get) {
        require_api_version(t);
        check_recording_id(id);
        return json_response(200, {{"recordingId", id}, {"recordingState", state_name(service_.state(id))}});
      }
      if (action.empty() && m == http::verb::delete_) {
        require_api_version(t);
        check_recording_id(id);
        service_.stop(id, "");
        return empty_response(204);
      }
      if ((action == "pause" || action == "resume") && m == http::verb::post) {
        require_api_version(t);
        check_recording_id(id);
        const std::string context = string_field(parse_body(req), "operationContext", kMaxContextChars);
        if (action == "pause") service_.pause(id, context);
        else service_.resume(id, context);
        return empty_response(202);
      }
    }
  }
  if (is(0, "calling") && is(1, "calls") && s.size() >= 4 && is(3, "participants")) {
    const std::string call = canonical_call_id(s[2], "callId");
    if (s.size() == 4 && m == http::verb::post) {
      const json body = parse_body(req);
      const std::string pid = participant_id_field(string_field(body, "participantId", 256, true));
      const std::string name = string_field(body, "displayName", 256);
      const std::string sdp = string_field(body, "sdp", 64 * 1024, true);
      const std::string answer = service_.add_participant(call, pid, name, sdp);
      return json_response(201, {{"participantId", pid}, {"sdp", answer}});
    }
    if (s.size() == 5 && m == http::verb::delete_) {
      service_.remove_participant(call, participant_id_field(s[4]));
      return empty_response(204);
    }
  }

  // ---- callrec's own: the engine's counters of a recording ----
  if (is(0, "callrec") && is(1, "recordings") && s.size() == 4 && is(3, "stats") && m == http::verb::get) {
    check_recording_id(s[2]);
    return json_response(200, service_.stats(s[2]));
  }
  // ---- callrec's own: the report page of a recording (made on a worker thread) ----
  if (is(0, "callrec") && is(1, "recordings") && s.size() == 4 && is(3, "report") && m == http::verb::get) {
    check_recording_id(s[2]);
    const auto inm = req.find(http::field::if_none_match);
    return reports_->answer(service_.report_source(s[2]), inm == req.end() ? std::string_view{} : inm->value());
  }
  throw ApiError(404, "UnknownRoute",
                 "no route " + std::string(req.method_string()) + " " +
                     std::string(req.target().substr(0, std::min<size_t>(req.target().size(), 200))));
}

}  // namespace callrec::service
