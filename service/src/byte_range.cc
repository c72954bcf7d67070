#include "callrec/service/byte_range.h"

#include <charconv>

namespace callrec::service {

namespace {
std::optional<uint64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

RangeRequest parse_byte_range(std::optional<std::string_view> header, uint64_t file_size) {
  if (!header) return {};
  std::string_view h = trim(*header);
  constexpr std::string_view kUnit = "bytes=";
  if (h.size() <= kUnit.size()) return {};
  for (size_t i = 0; i < kUnit.size(); ++i)
    if ((h[i] | 0x20) != kUnit[i] && h[i] != kUnit[i]) return {};
  h = trim(h.substr(kUnit.size()));
  if (h.find(',') != std::string_view::npos) return {};  // several ranges: the whole file
  // "bytes=N" (no dash) is what the 1.5.1 client sends for "from N to the end"
  // (downloadStreaming with an offset and no length): taken as "bytes=N-".
  const size_t dash = h.find('-');
  const std::string_view a = trim(h.substr(0, dash));
  const std::string_view b = dash == std::string_view::npos ? std::string_view{} : trim(h.substr(dash + 1));
  if (a.empty()) {
    // Suffix range: the last N bytes.
    const auto n = number(b);
    if (!n) return {};
    if (*n == 0 || file_size == 0) return {RangeKind::kUnsatisfiable, {}};
    const uint64_t len = std::min(*n, file_size);
    return {RangeKind::kPartial, {file_size - len, len}};
  }
  const auto first = number(a);
  if (!first) return {};
  std::optional<uint64_t> last;
  if (!b.empty()) {
    last = number(b);
    if (!last || *last < *first) return {};
  }
  if (*first >= file_size) return {RangeKind::kUnsatisfiable, {}};
  const uint64_t end = last ? std::min(*last, file_size - 1) : file_size - 1;
  return {RangeKind::kPartial, {*first, end - *first + 1}};
}

}  // namespace callrec::service
