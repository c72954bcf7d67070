// callrec: the command line.
//
//   callrec render MANIFEST.json --out DIR [--max-chunk-bytes N] [--quiet] ...
//   callrec record --out DIR --participant ID=FILE.sdp [...] [--duration S]
//   callrec recover DIR
//   callrec [COMMAND] ... --log-level error|warning|info|debug
//   callrec [COMMAND] ... --huge-pages
//
// Exit status: 0 done, 1 the command failed (a one-line message names the cause), 2 usage.
#include <sys/prctl.h>

#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "callrec/engine/ffmpeg_limits.h"
#include "command.h"

namespace callrec::cli {
namespace {

LogSink g_log_sink;
std::optional<LogLevel> g_libav_level;

// "render, recover": every subcommand, in the order they were added.
std::string command_names(CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

// The word where a command was expected, when it names none (nullopt: there was none).
std::optional<std::string> unknown_command(CLI::App& app) {
  if (!app.get_subcommands().empty()) return std::nullopt;
  const std::vector<std::string> rest = app.remaining();
  for (const std::string& word : rest)
    if (!word.starts_with("-")) return word;
  return std::nullopt;
}

}  // namespace

const LogSink& log_sink() { return g_log_sink; }
std::optional<LogLevel> libav_log_level() { return g_libav_level; }

// One fwrite per line: stdio locks stderr for each call, so lines from a session's
// threads never interleave.
LogSink stderr_log_sink(std::optional<LogLevel> libav_level) {
  const LogLevel level = std::max(LogLevel::kWarning, libav_level.value_or(LogLevel::kWarning));
  return LogSink{
      .callback =
          [libav_level](LogLevel line_level, std::string_view line) {
            const bool ours = line.starts_with("callrec: ");
            const bool wanted = libav_level && line_level <= *libav_level;
            if (!wanted && !(ours && line_level <= LogLevel::kWarning)) return;
            std::string text(line);
            text.push_back('\n');
            std::fwrite(text.data(), 1, text.size(), stderr);
          },
      .level = level};
}

void configure_log(std::optional<LogLevel> libav_level) {
  g_libav_level = libav_level;
  g_log_sink = stderr_log_sink(libav_level);
}

}  // namespace callrec::cli

int main(int argc, char** argv) {
  using namespace callrec;
  CLI::App app{"callrec: renders the recording of a video call"};
  app.require_subcommand(1);
  // Options of the command line itself (--log-level) may also follow the subcommand.
  app.fallthrough();
  std::string log_level;
  app.add_option("--log-level", log_level,
                 "Show FFmpeg's own log lines on stderr at this level and above: error, warning, info or debug "
                 "(default: none; callrec's own messages are always shown)")
      ->check(CLI::IsMember({"error", "warning", "info", "debug"}));
  bool huge_pages = false;
  app.add_flag("--huge-pages", huge_pages,
               "Let libx264 back its pictures with transparent huge pages (about 4 MiB more resident memory per "
               "encoder; no speed difference measured, docs/performance.md)");
  // Each subcommand lives in <name>_command.cc; add new ones here.
  const std::vector<cli::CommandRunner> commands{
      cli::add_render_command(app),
      cli::add_record_command(app),
      cli::add_recover_command(app),
      cli::add_report_command(app),
      cli::add_serve_command(app),
      cli::add_conversation_id_command(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (const auto word = cli::unknown_command(app)) {
      std::cerr << "callrec: error: unknown command \"" << *word << "\"; the commands are: " << cli::command_names(app)
                << " (callrec --help)\n";
      return 2;
    }
    if (app.get_subcommands().empty() && dynamic_cast<const CLI::RequiredError*>(&e)) {
      std::cerr << "callrec: error: a command is required: " << cli::command_names(app) << " (callrec --help)\n";
      return 2;
    }
    return app.exit(e) == 0 ? 0 : 2;
  }
  cli::configure_log(log_level.empty() ? std::nullopt : parse_log_level(log_level));
  // No single FFmpeg allocation beyond 128 MiB, whatever a hostile header claims.
  engine::limit_ffmpeg_allocations();
  // libx264 asks for transparent huge pages (madvise) on every buffer of 1.75 MiB or
  // more, rounded up to whole 2 MiB pages: on a 1080p encoder 58 MiB of huge pages,
  // about 4 MiB of them rounding (docs/performance.md). Off for this process unless asked;
  // a kernel without the setting (before Linux 3.15) just keeps its default.
  if (!huge_pages) prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  // The main thread's libav work (recover, the render driver) reports to the same sink.
  const ScopedLogSink log_scope(cli::log_sink());
  for (const auto& run : commands)
    if (const int status = run(); status >= 0) return status;
  return 2;
}
