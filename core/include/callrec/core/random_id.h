// Random identifiers from std::random_device; never derived from input strings, so
// they are URL-safe and unique across recordings whatever the manifest says.
#pragma once

#include <string>

namespace callrec {

// 128 random bits as 32 lowercase hex digits.
std::string random_hex_128();
// RFC 4122 version 4 UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
std::string random_uuid_v4();

}  // namespace callrec
