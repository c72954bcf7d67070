#include "callrec/ingest/source_address.h"

#include <arpa/inet.h>

namespace callrec::ingest {

SourceAddress SourceAddress::ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  SourceAddress s;
  s.ip[0] = a;
  s.ip[1] = b;
  s.ip[2] = c;
  s.ip[3] = d;
  s.port = port;
  return s;
}

std::string SourceAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip.data(), text, sizeof text);
  return v6 ? "[" + std::string(text) + "]:" + std::to_string(port) : std::string(text) + ":" + std::to_string(port);
}

}  // namespace callrec::ingest
