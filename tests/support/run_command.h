// Runs a command line and captures what it printed, for tests of the callrec binary.
#pragma once

#include <string>
#include <vector>

namespace callrec::testing {

struct CommandResult {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs argv[0] with the arguments (no shell), waits, returns exit code and output.
CommandResult run_command(const std::vector<std::string>& argv);

}  // namespace callrec::testing
