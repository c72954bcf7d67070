#include "file_digest.h"

#include <array>
#include <fstream>
#include <memory>
#include <vector>

#include <openssl/evp.h>

#include "callrec/core/error.h"

namespace callrec::report {
namespace {
struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
}  // namespace

// OpenSSL's SHA-256 uses the processor's SHA or AVX2 instructions: an hour's chunk
// (~450 MB) is hashed in about a second.
std::string sha256_hex_of_file(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  std::unique_ptr<EVP_MD_CTX, DigestContextDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw Error(name + ": cannot start a SHA-256 digest");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(name + ": cannot open to check its SHA-256");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(name + ": read error while checking its SHA-256");
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1) throw Error(name + ": SHA-256 failed");
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kDigits[digest[i] >> 4]);
    out.push_back(kDigits[digest[i] & 0xF]);
  }
  return out;
}

}  // namespace callrec::report
