#include "atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <system_error>

extern "C" {
#include <libavutil/mem.h>
#include <libavutil/sha.h>
}

#include "callrec/core/error.h"
#include "callrec/core/random_id.h"

namespace callrec::muxer {
namespace {

struct ShaDeleter {
  void operator()(AVSHA* sha) const { av_free(sha); }
};

[[noreturn]] void throw_errno(const std::filesystem::path& path, const char* doing, int err) {
  throw Error(path.string() + ": " + doing + ": " + std::strerror(err));
}

}  // namespace

void ScopedFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

int ScopedFd::close_now() {
  const int ret = ::close(fd_);
  fd_ = -1;
  return ret;
}

void report_file_size_limit_as_error() { std::signal(SIGXFSZ, SIG_IGN); }

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path temp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    ScopedFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw_errno(path, "cannot create temporary file", errno);
    size_t done = 0;
    while (done < contents.size()) {
      const ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        throw_errno(path, "cannot write", err);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0 || fd.close_now() != 0) {
      const int err = errno;
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      throw_errno(path, "cannot flush to disk", err);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw Error(path.string() + ": cannot rename into place: " + ec.message());
  }
}

std::string sha256_file_hex(const std::filesystem::path& path) {
  std::unique_ptr<AVSHA, ShaDeleter> sha(av_sha_alloc());
  if (!sha) throw Error(path.string() + ": out of memory computing SHA-256");
  if (av_sha_init(sha.get(), 256) < 0) throw Error(path.string() + ": cannot initialise SHA-256");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open to compute SHA-256");
  std::array<char, 64 * 1024> buffer;
  while (in) {
    in.read(buffer.data(), buffer.size());
    const std::streamsize n = in.gcount();
    if (n > 0) av_sha_update(sha.get(), reinterpret_cast<const uint8_t*>(buffer.data()), static_cast<size_t>(n));
  }
  if (in.bad()) throw Error(path.string() + ": read error computing SHA-256");
  std::array<uint8_t, 32> digest{};
  av_sha_final(sha.get(), digest.data());
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

void ensure_writable_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create output directory: " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) throw Error(dir.string() + ": output path is not a directory");
  const std::filesystem::path probe = dir / (".write-probe-" + random_hex_128());
  ScopedFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw_errno(dir, "output directory is not writable", errno);
  fd.close_now();
  std::filesystem::remove(probe, ec);
}

}  // namespace callrec::muxer
