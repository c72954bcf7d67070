// The few cryptographic primitives the service needs, all from OpenSSL (EVP): Base64 and
// Base64Url (RFC 4648), SHA-256, HMAC-SHA256 and a constant-time comparison.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace callrec::service {

using Digest = std::array<uint8_t, 32>;

// Standard alphabet, with padding.
std::string base64_encode(std::span<const uint8_t> bytes);
// Standard alphabet; padding optional. nullopt for anything that is not Base64.
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

// URL-safe alphabet ('-', '_'), without padding.
std::string base64url_encode(std::span<const uint8_t> bytes);
// URL-safe alphabet, padding optional. nullopt for anything else (including '+', '/').
std::optional<std::vector<uint8_t>> base64url_decode(std::string_view text);

Digest sha256(std::string_view data);
Digest hmac_sha256(std::span<const uint8_t> key, std::string_view message);

// Compares without an early exit (CRYPTO_memcmp); different lengths compare unequal.
bool constant_time_equal(std::string_view a, std::string_view b);

inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace callrec::service
