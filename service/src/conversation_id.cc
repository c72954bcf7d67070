#include "callrec/conversation_id.h"

#include <algorithm>

#include "callrec/service/crypto.h"

namespace callrec {

std::string conversation_id_from_url(std::string_view conversation_url) {
  return service::base64url_encode(service::as_bytes(conversation_url));
}

std::optional<std::string> conversation_url_from_id(std::string_view conversation_id) {
  const auto bytes = service::base64url_decode(conversation_id);
  if (!bytes || bytes->empty()) return std::nullopt;
  if (!std::all_of(bytes->begin(), bytes->end(), [](uint8_t b) { return b >= 0x20 && b < 0x7f; })) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

}  // namespace callrec
