#include "callrec/core/log.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "stderr_capture.h"

extern "C" {
#include <libavutil/log.h>
#include <libavutil/version.h>
}

namespace callrec {
namespace {

using testing::StderrCapture;

// A sink that keeps every line it is given.
struct CapturingSink {
  explicit CapturingSink(LogLevel level = LogLevel::kDebug) {
    sink.level = level;
    sink.callback = [this](LogLevel l, std::string_view line) {
      const std::lock_guard lock(mu);
      lines.emplace_back(l, std::string(line));
    };
  }
  std::vector<std::pair<LogLevel, std::string>> taken() {
    const std::lock_guard lock(mu);
    return lines;
  }
  std::mutex mu;
  std::vector<std::pair<LogLevel, std::string>> lines;
  LogSink sink;
};

// A libav-style context: what av_log prints the "[name @ 0x...]" prefix from.
const AVClass kProbeClass = {
    .class_name = "probe",
    .item_name = av_default_item_name,
    .option = nullptr,
    .version = LIBAVUTIL_VERSION_INT,
};
struct Probe {
  const AVClass* av_class = &kProbeClass;
};

TEST(LogTest, LibavLinesReachTheThreadsSinkAtItsLevel) {
  CapturingSink warnings(LogLevel::kWarning);
  Probe probe;
  {
    const ScopedLogSink scope(warnings.sink);
    av_log(&probe, AV_LOG_ERROR, "broken %d\n", 1);
    av_log(&probe, AV_LOG_WARNING, "odd %s\n", "thing");
    av_log(&probe, AV_LOG_INFO, "kb/s:38.58\n");  // below the sink's level
    av_log(&probe, AV_LOG_DEBUG, "detail\n");
  }
  av_log_set_level(AV_LOG_QUIET);  // outside callrec: libav's default callback, silenced
  av_log(&probe, AV_LOG_ERROR, "after the scope\n");
  const auto lines = warnings.taken();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].first, LogLevel::kError);
  EXPECT_TRUE(lines[0].second.starts_with("[probe @ 0x")) << lines[0].second;
  EXPECT_TRUE(lines[0].second.ends_with("] broken 1")) << lines[0].second;
  EXPECT_EQ(lines[1].first, LogLevel::kWarning);
  EXPECT_TRUE(lines[1].second.ends_with("] odd thing")) << lines[1].second;
}

TEST(LogTest, PiecesOfALineAreDeliveredAsOneLine) {
  CapturingSink sink;
  Probe probe;
  {
    const ScopedLogSink scope(sink.sink);
    av_log(&probe, AV_LOG_INFO, "frame I:%d ", 3);
    av_log(&probe, AV_LOG_INFO, "Avg QP:%.2f\nsecond line\nunfinished", 31.5);
  }  // the unfinished line is delivered when the scope ends
  const auto lines = sink.taken();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].second.find("] frame I:3 Avg QP:"), std::string::npos) << lines[0].second;
  EXPECT_EQ(lines[0].second.find('['), 0u);
  EXPECT_EQ(lines[0].second.find('[', 1), std::string::npos) << "one prefix per line: " << lines[0].second;
  EXPECT_TRUE(lines[1].second.ends_with("second line")) << lines[1].second;
  EXPECT_TRUE(lines[2].second.ends_with("unfinished")) << lines[2].second;
}

TEST(LogTest, InsideCallrecWithoutASinkNothingReachesStderr) {
  av_log_set_level(AV_LOG_DEBUG);  // libav's default callback would print all of it
  StderrCapture capture;
  {
    const ScopedLogSink quiet(nullptr);
    av_log(nullptr, AV_LOG_ERROR, "must not be seen\n");
    LogSink no_callback;
    const ScopedLogSink also_quiet(no_callback);
    av_log(nullptr, AV_LOG_PANIC, "must not be seen either\n");
    log_line(LogLevel::kError, "compositor: nor this");
  }
  const std::string err = capture.finish();
  av_log_set_level(AV_LOG_INFO);
  EXPECT_EQ(err, "");
}

TEST(LogTest, OutsideCallrecLibavLogsAsItWouldWithoutIt) {
  { const ScopedLogSink installs_the_callback(nullptr); }
  av_log_set_level(AV_LOG_INFO);
  StderrCapture capture;
  av_log(nullptr, AV_LOG_ERROR, "the host's own libav line\n");
  const std::string err = capture.finish();
  EXPECT_NE(err.find("the host's own libav line"), std::string::npos) << err;
}

TEST(LogTest, EachThreadHasItsOwnSinkAndWorkCarriesItAlong) {
  CapturingSink first, second;
  auto run = [](const LogSink& sink, const char* name) {
    const ScopedLogSink scope(sink);
    for (int i = 0; i < 200; ++i) av_log(nullptr, AV_LOG_WARNING, "%s %d\n", name, i);
    // Work handed to another thread carries the submitting thread's sink.
    std::thread worker([carried = current_log_sink(), name] {
      const ScopedLogSink inherited(carried);
      av_log(nullptr, AV_LOG_WARNING, "%s worker\n", name);
    });
    worker.join();
  };
  std::thread a(run, std::cref(first.sink), "first");
  std::thread b(run, std::cref(second.sink), "second");
  a.join();
  b.join();
  for (auto* sink : {&first, &second}) {
    const auto lines = sink->taken();
    ASSERT_EQ(lines.size(), 201u);
    const std::string name = sink == &first ? "first" : "second";
    for (const auto& [level, line] : lines) EXPECT_TRUE(line.starts_with(name + " ")) << line;
    EXPECT_EQ(lines.back().second, name + " worker");
  }
}

TEST(LogTest, ScopesNestAndRestoreTheOuterSink) {
  CapturingSink outer, inner;
  {
    const ScopedLogSink a(outer.sink);
    {
      const ScopedLogSink b(inner.sink);
      EXPECT_EQ(current_log_sink(), &inner.sink);
      log_line(LogLevel::kWarning, "to inner");
    }
    EXPECT_EQ(current_log_sink(), &outer.sink);
    log_line(LogLevel::kWarning, "to outer");
  }
  EXPECT_EQ(current_log_sink(), nullptr);
  ASSERT_EQ(inner.taken().size(), 1u);
  ASSERT_EQ(outer.taken().size(), 1u);
  EXPECT_EQ(outer.taken()[0].second, "callrec: to outer");
}

TEST(LogTest, ControlCharactersAreReplacedAndThrowingSinksAreContained) {
  LogSink throwing{.callback = [](LogLevel, std::string_view) { throw std::runtime_error("host bug"); },
                   .level = LogLevel::kDebug};
  {
    const ScopedLogSink scope(throwing);
    av_log(nullptr, AV_LOG_ERROR, "survives\n");  // must not unwind through libav
  }
  CapturingSink sink;
  {
    const ScopedLogSink scope(sink.sink);
    av_log(nullptr, AV_LOG_ERROR, "title: a\x1b[2Jb\n");
  }
  ASSERT_EQ(sink.taken().size(), 1u);
  EXPECT_EQ(sink.taken()[0].second, "title: a?[2Jb");
}

TEST(LogTest, LevelNames) {
  EXPECT_EQ(parse_log_level("warning"), LogLevel::kWarning);
  EXPECT_EQ(parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_FALSE(parse_log_level("loud").has_value());
  EXPECT_STREQ(to_string(LogLevel::kInfo), "info");
}

}  // namespace
}  // namespace callrec
