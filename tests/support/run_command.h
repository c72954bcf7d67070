// Runs a command line and captures what it printed, for tests of the callrec binary.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace callrec::testing {

struct CommandResult {
  int exit_code;
  std::string out;
  std::string err;
  long max_rss_kib = 0;  // the command's peak resident memory (getrusage's ru_maxrss)
};

// Runs argv[0] with the arguments (no shell), waits, returns exit code and output.
CommandResult run_command(const std::vector<std::string>& argv);

// A name starting with '.': a temporary or state file of the writer.
bool is_hidden(const std::filesystem::path& p);

// The published files of an output directory with extension `ext` (".mp4", ".json"),
// sorted by name: hidden files and recording.json left out.
std::vector<std::filesystem::path> published_files(const std::filesystem::path& dir, const std::string& ext);

// Decodes `mp4` with the ffmpeg command line, failing on the first error (gtest
// expectations: exit code 0, nothing on stderr).
void expect_plays_completely(const std::filesystem::path& mp4);

}  // namespace callrec::testing
