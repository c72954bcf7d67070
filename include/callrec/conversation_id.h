// conversationId: how the reference service names a call in its routes
// (POST /conversations/{conversationId}/Recordings, ...). It is the Base64Url (RFC 4648
// §5, URL-safe alphabet, no padding) of the conversation's URL, so it can sit in a path
// segment as it is. Today's server call ids have the same form.
//
//   callrec::conversation_id_from_url("https://conv.example/conversations/42")
//     == "aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg"
//
// The command line computes it too: `callrec conversation-id URL`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace callrec {

std::string conversation_id_from_url(std::string_view conversation_url);

// The conversation URL back; nullopt when `conversation_id` is not Base64Url (padding
// is accepted) or does not decode to printable text.
std::optional<std::string> conversation_url_from_id(std::string_view conversation_id);

}  // namespace callrec
