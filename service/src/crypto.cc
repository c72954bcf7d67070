#include "callrec/service/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "callrec/core/error.h"

namespace callrec::service {

std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
  // EVP_DecodeUpdate skips whitespace and accepts a missing final padding, which a
  // strict reader must not: only the alphabet and '=' at the end are allowed here.
  const size_t data_end = text.find_last_not_of('=') == std::string_view::npos ? 0 : text.find_last_not_of('=') + 1;
  if (text.size() - data_end > 2) return std::nullopt;
  for (size_t i = 0; i < data_end; ++i) {
    const char c = text[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return std::nullopt;
  }
  if (data_end % 4 == 1) return std::nullopt;
  std::string padded(text.substr(0, data_end));
  padded.append((4 - padded.size() % 4) % 4, '=');
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!ctx) throw Error("base64: out of memory");
  EVP_DecodeInit(ctx.get());
  std::vector<uint8_t> out(padded.size() / 4 * 3 + 3);
  int n = 0;
  if (EVP_DecodeUpdate(ctx.get(), out.data(), &n, reinterpret_cast<const unsigned char*>(padded.data()),
                       static_cast<int>(padded.size())) < 0)
    return std::nullopt;
  int tail = 0;
  if (EVP_DecodeFinal(ctx.get(), out.data() + n, &tail) < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n + tail));
  return out;
}

std::string base64url_encode(std::span<const uint8_t> bytes) {
  std::string s = base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

std::optional<std::vector<uint8_t>> base64url_decode(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '+' || c == '/') return std::nullopt;
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
  }
  return base64_decode(s);
}

Digest sha256(std::string_view data) {
  Digest d{};
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), d.data(), &n, EVP_sha256(), nullptr) != 1 || n != d.size())
    throw Error("SHA-256 failed");
  return d;
}

Digest hmac_sha256(std::span<const uint8_t> key, std::string_view message) {
  Digest d{};
  unsigned int n = 0;
  // An empty key is legal HMAC; OpenSSL wants a non-null pointer for it.
  static const uint8_t kEmpty = 0;
  if (!HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), d.data(), &n) ||
      n != d.size())
    throw Error("HMAC-SHA256 failed");
  return d;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace callrec::service
