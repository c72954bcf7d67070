// One subcommand of the callrec command line. Each lives in its own file
// (<name>_command.cc) and is registered in callrec.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>

#include "callrec/core/log.h"

namespace callrec::cli {

// Runs the parsed subcommand; returns the process exit status
// (0 done, 1 failed with a one-line message on stderr).
using CommandRunner = std::function<int()>;

// The log sink of this run (--log-level; set before a command runs, and already the
// main thread's): pass it to what runs libav on other threads (RenderOptions::log,
// SessionConfig::log).
const LogSink& log_sink();
// --log-level: libav's lines shown at this level and above (nullopt: none).
std::optional<LogLevel> libav_log_level();
// To stderr: callrec's own diagnostics ("callrec: ...") at warning and above, and
// libav's lines at `libav_level` and above (none when nullopt).
LogSink stderr_log_sink(std::optional<LogLevel> libav_level);

// Each adds its subcommand and options to `app` and returns how to run it.
CommandRunner add_render_command(CLI::App& app);
CommandRunner add_record_command(CLI::App& app);
CommandRunner add_recover_command(CLI::App& app);
CommandRunner add_report_command(CLI::App& app);
CommandRunner add_serve_command(CLI::App& app);
CommandRunner add_conversation_id_command(CLI::App& app);

}  // namespace callrec::cli
