#include "callrec/core/log.h"

#include <cstdarg>
#include <mutex>
#include <string>

extern "C" {
#include <libavutil/log.h>
}

namespace callrec {
namespace {

// The thread's place in callrec: inside any scope at all, and the sink of the innermost.
thread_local bool tls_inside = false;
thread_local const LogSink* tls_sink = nullptr;
// libav writes a line in pieces (a context prefix once per line); the pieces of the
// thread's unfinished line wait here for its newline.
thread_local std::string tls_pending;
thread_local LogLevel tls_pending_level = LogLevel::kError;
thread_local int tls_print_prefix = 1;

LogLevel from_libav(int level) {
  if (level <= AV_LOG_ERROR) return LogLevel::kError;
  if (level <= AV_LOG_WARNING) return LogLevel::kWarning;
  if (level <= AV_LOG_INFO) return LogLevel::kInfo;
  return LogLevel::kDebug;
}

bool wants(const LogSink* sink, LogLevel level) { return sink && sink->callback && level <= sink->level; }

// libav calls in from C: an exception thrown by the host's callback must not unwind
// through it, and a log line is not worth failing a recording for.
void deliver(const LogSink& sink, LogLevel level, std::string_view line) noexcept {
  try {
    sink.callback(level, line);
  } catch (...) {
  }
}

void flush_pending(const LogSink* sink) {
  if (tls_pending.empty()) return;
  std::string line;
  line.swap(tls_pending);
  tls_print_prefix = 1;
  if (wants(sink, tls_pending_level)) deliver(*sink, tls_pending_level, line);
}

// Control characters from a file's metadata must not reach a terminal or log as such.
void sanitize(std::string& text) {
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) c = '?';
  }
}

void forward(void* context, int level, const char* format, va_list args) {
  if (!tls_inside) {
    av_log_default_callback(context, level, format, args);
    return;
  }
  const LogLevel ours = from_libav(level & 0xff);
  const LogSink* sink = tls_sink;
  if (!wants(sink, ours)) return;
  char buffer[1024];
  av_log_format_line2(context, level, format, args, buffer, sizeof buffer, &tls_print_prefix);
  std::string piece(buffer);
  sanitize(piece);
  if (tls_pending.empty()) tls_pending_level = ours;
  for (size_t start = 0; start < piece.size();) {
    const size_t newline = piece.find('\n', start);
    if (newline == std::string::npos) {
      tls_pending.append(piece, start, std::string::npos);
      break;
    }
    tls_pending.append(piece, start, newline - start);
    std::string line;
    line.swap(tls_pending);
    deliver(*sink, tls_pending_level, line);
    tls_pending_level = ours;
    start = newline + 1;
  }
}

void install_forwarding() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(forward); });
}

}  // namespace

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
  for (const LogLevel level : {LogLevel::kError, LogLevel::kWarning, LogLevel::kInfo, LogLevel::kDebug})
    if (name == to_string(level)) return level;
  return std::nullopt;
}

ScopedLogSink::ScopedLogSink(const LogSink* sink) : previous_(tls_sink), previous_inside_(tls_inside) {
  install_forwarding();
  flush_pending(tls_sink);
  tls_sink = sink;
  tls_inside = true;
}

ScopedLogSink::~ScopedLogSink() {
  flush_pending(tls_sink);
  tls_sink = previous_;
  tls_inside = previous_inside_;
}

const LogSink* current_log_sink() { return tls_sink; }

void log_line(LogLevel level, std::string_view line) {
  const LogSink* sink = tls_sink;
  if (wants(sink, level)) deliver(*sink, level, "callrec: " + std::string(line));
}

}  // namespace callrec
