#include "html_text.h"

#include <cstdio>
#include <vector>

#include "callrec/core/wall_clock.h"

extern "C" {
#include <libavutil/base64.h>
}

namespace callrec::report {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters have no business in a page (and would break XML-style SVG).
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += "&#xFFFD;";
        else out += c;
    }
  }
  return out;
}

std::string data_uri(std::string_view mime, std::string_view bytes) {
  std::string out = "data:" + std::string(mime) + ";base64,";
  std::vector<char> encoded(AV_BASE64_SIZE(bytes.size()));
  av_base64_encode(encoded.data(), static_cast<int>(encoded.size()), reinterpret_cast<const uint8_t*>(bytes.data()),
                   static_cast<int>(bytes.size()));
  out += encoded.data();
  return out;
}

std::string format_media_time(int64_t ms, bool with_ms) {
  const bool negative = ms < 0;
  if (negative) ms = -ms;
  const int64_t h = ms / 3'600'000, m = ms / 60'000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
  char buf[48];
  if (h > 0) {
    if (with_ms) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld.%03lld", (long long)h, (long long)m, (long long)s, (long long)frac);
    else std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)h, (long long)m, (long long)s);
  } else {
    if (with_ms) std::snprintf(buf, sizeof buf, "%lld:%02lld.%03lld", (long long)m, (long long)s, (long long)frac);
    else std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)m, (long long)s);
  }
  return (negative ? "-" : "") + std::string(buf);
}

std::string format_time_of_day(int64_t unix_us, bool with_ms) {
  const std::string iso = format_iso8601(WallClock{unix_us});  // 2026-11-27T10:00:12.250Z
  const size_t t = iso.find('T');
  if (t == std::string::npos) return iso;
  return with_ms ? iso.substr(t + 1) : iso.substr(t + 1, 8);
}

std::string format_bytes(int64_t bytes) {
  char buf[32];
  if (bytes < 1000) std::snprintf(buf, sizeof buf, "%lld B", (long long)bytes);
  else if (bytes < 1'000'000) std::snprintf(buf, sizeof buf, "%.1f kB", bytes / 1e3);
  else if (bytes < 1'000'000'000) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

std::string format_duration(int64_t ms) {
  char buf[48];
  if (ms < 10'000 && ms % 1000 != 0) std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  else if (ms < 60'000) std::snprintf(buf, sizeof buf, "%lld s", (long long)(ms / 1000));
  else if (ms < 3'600'000) std::snprintf(buf, sizeof buf, "%lld min %lld s", (long long)(ms / 60'000), (long long)(ms / 1000 % 60));
  else std::snprintf(buf, sizeof buf, "%lld h %lld min", (long long)(ms / 3'600'000), (long long)(ms / 60'000 % 60));
  return buf;
}

}  // namespace callrec::report
