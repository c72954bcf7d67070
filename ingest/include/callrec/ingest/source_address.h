// SourceAddress: where a datagram came from (or goes to), without the socket library's
// types, so the packet logic can be driven and tested without sockets.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace callrec::ingest {

struct SourceAddress {
  std::array<uint8_t, 16> ip{};  // IPv4 in the first 4 bytes when !v6
  uint16_t port = 0;
  bool v6 = false;

  static SourceAddress ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
  SourceAddress with_port(uint16_t p) const {
    SourceAddress s = *this;
    s.port = p;
    return s;
  }
  std::string to_string() const;
  friend bool operator==(const SourceAddress&, const SourceAddress&) = default;
};

}  // namespace callrec::ingest
