// Text for the report page: HTML escaping, data: URIs, times as people read them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace callrec::report {

// Escapes & < > " ' for element text and attribute values alike.
std::string html_escape(std::string_view text);
// "data:<mime>;base64,..."
std::string data_uri(std::string_view mime, std::string_view bytes);
// Recording time: "4:05.250" below an hour, "1:02:03" from an hour on (ms shown when
// `with_ms`).
std::string format_media_time(int64_t ms, bool with_ms = false);
// Wall-clock time of day, UTC: "10:00:12" (or "10:00:12.250Z" with `with_ms`).
std::string format_time_of_day(int64_t unix_us, bool with_ms = false);
// "12.3 MB", "512 KiB"-style sizes in SI units with one decimal.
std::string format_bytes(int64_t bytes);
// A duration in words for pauses and gaps: "10 s", "2 min 5 s", "1 h 2 min".
std::string format_duration(int64_t ms);

}  // namespace callrec::report
