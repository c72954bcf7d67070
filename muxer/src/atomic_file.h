// Whole-file helpers for the output directory.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace callrec::muxer {

// Writes `contents` to a hidden temporary file beside `path`, syncs it to disk and
// renames it over `path`, so readers see either nothing or the whole file.
// Throws callrec::Error naming the file on failure (the temporary is removed).
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

// SHA-256 of a file's contents as 64 lowercase hex digits (libavutil's av_sha).
std::string sha256_file_hex(const std::filesystem::path& path);

// Throws callrec::Error when `dir` cannot be created or a file cannot be created in it.
void ensure_writable_directory(const std::filesystem::path& dir);

}  // namespace callrec::muxer
