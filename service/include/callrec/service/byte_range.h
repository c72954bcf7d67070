// The Range header of a download (RFC 9110 §14): one byte range, as the clients send it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace callrec::service {

struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
};

enum class RangeKind {
  kWhole,          // no usable Range: send the whole file (200). A header that is not
                   // a single well-formed bytes range is ignored, as RFC 9110 allows
                   // (the 1.5.1 client sends "bytes=undefined" when it wants it all).
                   // "bytes=N", which the same client sends for "from N on", is
                   // taken as "bytes=N-".
  kPartial,        // one satisfiable range (206)
  kUnsatisfiable,  // a well-formed range that starts at or past the end (416)
};

struct RangeRequest {
  RangeKind kind = RangeKind::kWhole;
  ByteRange range;  // kPartial only
};

RangeRequest parse_byte_range(std::optional<std::string_view> header, uint64_t file_size);

}  // namespace callrec::service
