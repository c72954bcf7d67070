// One subcommand of the callrec command line. Each lives in its own file
// (<name>_command.cc) and is registered in callrec.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace callrec::cli {

// Runs the parsed subcommand; returns the process exit status
// (0 done, 1 failed with a one-line message on stderr).
using CommandRunner = std::function<int()>;

// Each adds its subcommand and options to `app` and returns how to run it.
CommandRunner add_render_command(CLI::App& app);
CommandRunner add_recover_command(CLI::App& app);
CommandRunner add_serve_command(CLI::App& app);
CommandRunner add_conversation_id_command(CLI::App& app);

}  // namespace callrec::cli
