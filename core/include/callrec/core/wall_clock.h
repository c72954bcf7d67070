// Wall-clock instants as they appear in the JSON (ISO 8601, UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace callrec {

// Microseconds since the Unix epoch, UTC.
struct WallClock {
  int64_t unix_us;
  friend auto operator<=>(const WallClock&, const WallClock&) = default;
};

// Parses "2026-11-27T10:00:00Z", "2026-11-27T10:00:00.250Z" or with a "+01:00" offset.
std::optional<WallClock> parse_iso8601(std::string_view text);
// "2026-11-27T10:00:00.250Z" (always milliseconds, always Z).
std::string format_iso8601(WallClock t);
WallClock wall_clock_now();

}  // namespace callrec
