// SHA-256 of a file, to check a chunk against the digest its metadata carries.
#pragma once

#include <filesystem>
#include <string>

namespace callrec::report {

// Lower-case hex. Throws callrec::Error naming the file when it cannot be read.
std::string sha256_hex_of_file(const std::filesystem::path& path);

}  // namespace callrec::report
