#include "callrec/service/hmac_auth.h"

#include <array>
#include <cctype>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <locale>
#include <sstream>

#include "callrec/core/error.h"
#include "callrec/service/crypto.h"

namespace callrec::service {

namespace {

constexpr std::string_view kScheme = "HMAC-SHA256";
constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string b64(const Digest& d) { return base64_encode(d); }

std::string string_to_sign(std::string_view method, std::string_view target, std::string_view values) {
  std::string s;
  s.reserve(method.size() + target.size() + values.size() + 2);
  s.append(method).append("\n").append(target).append("\n").append(values);
  return s;
}

}  // namespace

HmacAuthenticator::HmacAuthenticator(std::vector<uint8_t> key, std::chrono::seconds max_clock_skew)
    : key_(std::move(key)), max_skew_(max_clock_skew) {
  if (key_.empty()) throw Error("the access key is empty");
}

std::optional<std::string> HmacAuthenticator::verify(const SignedRequestView& r,
                                                     std::chrono::system_clock::time_point now) const {
  const auto authorization = r.header("authorization");
  if (!authorization) return "no Authorization header";
  std::string_view auth = trim(*authorization);
  if (auth.size() <= kScheme.size() || !iequals(auth.substr(0, kScheme.size()), kScheme) || auth[kScheme.size()] != ' ')
    return "the Authorization scheme is not HMAC-SHA256";
  auth = trim(auth.substr(kScheme.size() + 1));
  // "SignedHeaders=a;b;c&Signature=S" (the signature is Base64, which has no '&').
  std::optional<std::string_view> signed_headers;
  std::optional<std::string_view> signature;
  while (!auth.empty()) {
    const size_t amp = auth.find('&');
    const std::string_view part = auth.substr(0, amp);
    auth = amp == std::string_view::npos ? std::string_view{} : auth.substr(amp + 1);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) return "malformed Authorization parameters";
    const std::string_view name = trim(part.substr(0, eq));
    const std::string_view value = trim(part.substr(eq + 1));
    if (iequals(name, "SignedHeaders")) signed_headers = value;
    else if (iequals(name, "Signature")) signature = value;
  }
  if (!signed_headers || !signature) return "the Authorization header lacks SignedHeaders or Signature";

  // The date and the body's hash must be among what was signed.
  bool has_date = false;
  bool has_hash = false;
  bool has_host = false;
  std::string values;
  std::string_view names = *signed_headers;
  int count = 0;
  while (!names.empty()) {
    const size_t semi = names.find(';');
    const std::string_view name = trim(names.substr(0, semi));
    names = semi == std::string_view::npos ? std::string_view{} : names.substr(semi + 1);
    if (++count > 16) return "too many signed headers";
    std::optional<std::string_view> value;
    if (iequals(name, "host")) {
      value = r.header("x-ms-host");
      if (!value) value = r.header("host");
      has_host = true;
    } else {
      value = r.header(name);
    }
    if (!value) return "signed header \"" + std::string(name.substr(0, 64)) + "\" is missing";
    has_date |= iequals(name, "x-ms-date") || iequals(name, "date");
    has_hash |= iequals(name, "x-ms-content-sha256");
    if (!values.empty()) values += ';';
    values.append(*value);
  }
  if (!has_date || !has_hash || !has_host) return "SignedHeaders must include x-ms-date, host and x-ms-content-sha256";

  auto date = r.header("x-ms-date");
  if (!date) date = r.header("date");
  const auto when = parse_http_date(*date);
  if (!when) return "x-ms-date is not an HTTP date";
  if (*when > now + max_skew_ || *when < now - max_skew_) return "x-ms-date is outside the accepted time window";

  const std::string body_hash = b64(sha256(r.body));
  if (!constant_time_equal(trim(*r.header("x-ms-content-sha256")), body_hash))
    return "x-ms-content-sha256 does not match the body";

  const std::string expected = b64(hmac_sha256(key_, string_to_sign(r.method, r.target, values)));
  if (!constant_time_equal(*signature, expected)) return "the signature does not match";
  return std::nullopt;
}

SignedHeaders HmacAuthenticator::sign(std::string_view method, std::string_view target, std::string_view host,
                                      std::string_view body, std::chrono::system_clock::time_point at) const {
  SignedHeaders h;
  h.date = format_http_date(at);
  h.content_sha256 = b64(sha256(body));
  const std::string values = h.date + ";" + std::string(host) + ";" + h.content_sha256;
  h.authorization = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" +
                    b64(hmac_sha256(key_, string_to_sign(method, target, values)));
  return h;
}

std::string format_http_date(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[static_cast<size_t>(tm.tm_wday)],
                tm.tm_mday, kMonths[static_cast<size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
  text = trim(text);
  if (text.size() > 64) return std::nullopt;
  const std::string s(text);
  std::tm tm{};
  // IMF-fixdate, RFC 850, asctime (RFC 7231 §7.1.1.1).
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    // std::get_time stops quietly at the end of the input: the zone is checked here.
    if (std::string_view(format).ends_with(" GMT") != s.ends_with(" GMT")) continue;
    tm = std::tm{};
    std::istringstream in(s);
    in.imbue(std::locale::classic());
    in >> std::get_time(&tm, format);
    if (in.fail()) continue;
    in >> std::ws;
    if (!in.eof()) continue;
    if (tm.tm_year < 70 || tm.tm_year > 1100) return std::nullopt;
    const time_t secs = timegm(&tm);
    if (secs == static_cast<time_t>(-1)) return std::nullopt;
    return std::chrono::system_clock::from_time_t(secs);
  }
  return std::nullopt;
}

std::vector<uint8_t> load_access_key(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot read the access key file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 64 * 1024) throw Error(file.string() + ": the access key file is too large");
  std::string_view key = text;
  // A connection string "endpoint=https://...;accesskey=KEY" is accepted as well.
  for (std::string_view rest = text; !rest.empty();) {
    const size_t semi = rest.find(';');
    std::string_view part = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    if (part.size() > 10 && iequals(part.substr(0, 10), "accesskey=")) key = part.substr(10);
  }
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.remove_suffix(1);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.front()))) key.remove_prefix(1);
  const auto bytes = base64_decode(key);
  if (!bytes) throw Error(file.string() + ": the access key is not Base64");
  if (bytes->size() < 16) throw Error(file.string() + ": the access key is shorter than 16 bytes");
  return *bytes;
}

}  // namespace callrec::service
