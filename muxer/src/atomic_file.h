// Whole-file helpers for the output directory.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace callrec::muxer {

// Owns a POSIX file descriptor (-1: none) and closes it.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { reset(); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1);
  // Closes now and returns close()'s result (where NFS reports a failed write).
  int close_now();

 private:
  int fd_ = -1;
};

// Makes a write beyond RLIMIT_FSIZE fail with EFBIG (reported as a storage error
// naming the file) instead of killing the process with SIGXFSZ, whose default action
// would leave a half-written chunk and no message. Process-wide; idempotent.
void report_file_size_limit_as_error();

// Writes `contents` to a hidden temporary file beside `path`, syncs it to disk and
// renames it over `path`, so readers see either nothing or the whole file.
// Throws callrec::Error naming the file on failure (the temporary is removed).
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

// SHA-256 of a file's contents as 64 lowercase hex digits (libavutil's av_sha).
std::string sha256_file_hex(const std::filesystem::path& path);

// Throws callrec::Error when `dir` cannot be created or a file cannot be created in it.
void ensure_writable_directory(const std::filesystem::path& dir);

}  // namespace callrec::muxer
