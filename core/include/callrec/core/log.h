// Where libav's (FFmpeg's) log lines and callrec's own diagnostics go.
//
// libav has one log callback per process, while a host may run several sessions and
// renders at once, each wanting its lines in its own place (or nowhere). So callrec
// installs one av_log callback, once, when it first enters one of its scopes, and that
// callback forwards each line to the sink *of the thread that logged it*:
//
//  - a thread inside a ScopedLogSink with a sink: to that sink, filtered by its level;
//  - a thread inside a ScopedLogSink without one: dropped (callrec is quiet by default
//    and never writes to the host's stderr);
//  - a thread callrec never entered (the host's own use of libav): to libav's default
//    callback, as if callrec were not there.
//
// Every thread on which callrec runs libav holds a ScopedLogSink for the session or
// render it works for: the thread calling render_call() or Session::start(), a live
// session's output thread. Work handed to another thread (the muxer's encoder worker)
// carries the submitting thread's sink along (current_log_sink()).
//
// Threading: a sink's callback runs on the thread that logged, possibly on several
// threads at once (a session's output thread and its encoder worker): it must be
// thread-safe. A sink must outlive every scope that installs it and the work it carries.
// A host that later installs its own av_log callback replaces callrec's.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

namespace callrec {

// From most to least severe. libav's panic/fatal/error are kError, warning kWarning,
// info kInfo, verbose/debug/trace kDebug.
enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// "error", "warning", "info", "debug".
const char* to_string(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view name);

struct LogSink {
  // One line, without its newline. libav's lines begin with their context
  // ("[libx264 @ 0x55d0c3a4] kb/s:38.58"), callrec's own with "callrec: " and the stage
  // ("callrec: compositor: ...").
  // Empty: the lines are dropped.
  std::function<void(LogLevel level, std::string_view line)> callback;
  // Lines at this level or more severe reach the callback.
  LogLevel level = LogLevel::kWarning;
};

// Makes `sink` the current thread's sink until destroyed (then the previous one is back).
// nullptr, or a sink without a callback: this thread's lines are dropped.
class ScopedLogSink {
 public:
  explicit ScopedLogSink(const LogSink* sink);
  explicit ScopedLogSink(const LogSink& sink) : ScopedLogSink(&sink) {}
  ~ScopedLogSink();
  ScopedLogSink(const ScopedLogSink&) = delete;
  ScopedLogSink& operator=(const ScopedLogSink&) = delete;

 private:
  const LogSink* previous_;
  bool previous_inside_;
};

// The current thread's sink (nullptr: none), to carry work to another thread:
//   worker.submit([sink = current_log_sink(), job] { ScopedLogSink scope(sink); job(); });
const LogSink* current_log_sink();

// callrec's own diagnostic (a feature degraded, ...) to the current thread's sink, as
// "callrec: " + line.
void log_line(LogLevel level, std::string_view line);

}  // namespace callrec
