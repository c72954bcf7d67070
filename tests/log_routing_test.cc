// Where libav's log lines go when callrec is embedded: to the sink of the render or
// session that caused them (RenderOptions::log, SessionConfig::log), and never to the
// host's stderr, whatever libav's own log level says.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/core/clock.h"
#include "callrec/core/log.h"
#include "callrec/engine/manifest.h"
#include "callrec/engine/offline_renderer.h"
#include "callrec/mediagen/media_generator.h"
#include "callrec/session.h"
#include "decoded_media.h"
#include "stderr_capture.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct CapturingSink {
  explicit CapturingSink(LogLevel level) {
    sink.level = level;
    sink.callback = [this](LogLevel, std::string_view line) {
      const std::lock_guard lock(mu);
      lines.emplace_back(line);
    };
  }
  std::vector<std::string> taken() {
    const std::lock_guard lock(mu);
    return lines;
  }
  bool has(const std::string& text) {
    for (const std::string& line : taken())
      if (line.find(text) != std::string::npos) return true;
    return false;
  }
  // The libav contexts ("[libx264 @ 0x...]") that logged.
  std::set<std::string> contexts() {
    std::set<std::string> out;
    const std::regex context(R"(^\[[a-z0-9_]+ @ 0x[0-9a-f]+\])");
    for (const std::string& line : taken()) {
      std::smatch m;
      if (std::regex_search(line, m, context)) out.insert(m.str());
    }
    return out;
  }
  std::mutex mu;
  std::vector<std::string> lines;
  LogSink sink;
};

engine::Manifest one_participant_call(const fs::path& dir) {
  mediagen::write_media(dir / "ada.webm", {.duration_ms = 1000,
                                           .video = mediagen::VideoSpec{},
                                           .audio = mediagen::AudioSpec{.tones = {{0, 1000, 440}}}});
  return engine::parse_manifest(R"({"callId": "log-call", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [{"participantId": "ada", "media": [{"file": "ada.webm", "offsetMs": 0}]}]})",
                                "call.json", dir);
}

TEST(LogRoutingTest, RenderSendsLibavLinesToItsSinkAndNothingToStderr) {
  const fs::path dir = fresh_dir("log-routing-render");
  const engine::Manifest manifest = one_participant_call(dir);
  av_log_set_level(AV_LOG_DEBUG);  // libav's default callback would print everything
  CapturingSink info(LogLevel::kInfo);
  StderrCapture capture;
  engine::render_call(manifest, {.out_dir = dir / "with-sink", .log = info.sink});
  engine::render_call(manifest, {.out_dir = dir / "without-sink"});
  const std::string err = capture.finish();
  av_log_set_level(AV_LOG_ERROR);
  EXPECT_EQ(err, "") << "libav wrote to the host's stderr";
  // x264 says what it found when it opens (the render thread) and its statistics when
  // it closes.
  EXPECT_TRUE(info.has("[libx264 @ 0x")) << "no x264 line reached the sink";
  EXPECT_TRUE(info.has("kb/s:")) << "no x264 statistics reached the sink";
  for (const std::string& line : info.taken()) EXPECT_EQ(line.find('\n'), std::string::npos) << line;
}

// Two live sessions in one process, one with a sink at info and one at warning: each
// sink gets the lines of its own session's encoders only, and stderr gets nothing.
TEST(LogRoutingTest, EachSessionsLinesGoToItsOwnSink) {
  const fs::path dir = fresh_dir("log-routing-session");
  av_log_set_level(AV_LOG_DEBUG);
  CapturingSink first(LogLevel::kInfo), second(LogLevel::kInfo), quiet(LogLevel::kError);
  av::FramePtr picture = av::make_frame();
  picture->format = AV_PIX_FMT_YUV420P;
  picture->width = 320;
  picture->height = 180;
  ASSERT_GE(av_frame_get_buffer(picture.get(), 0), 0);
  for (int plane = 0; plane < 3; ++plane)
    for (int y = 0; y < (plane ? 90 : 180); ++y)
      std::fill_n(picture->data[plane] + y * picture->linesize[plane], plane ? 160 : 320, uint8_t(plane ? 128 : 90));

  StderrCapture capture;
  {
    auto run = [&](const std::string& name, const LogSink& log) {
      Session session({.out_dir = dir / name, .call_id = name, .jitter_window = 50ms, .log = log});
      ASSERT_TRUE(session.start().status.ok());
      ASSERT_TRUE(session.join("ada").ok());
      std::vector<int16_t> pcm(320, 1000);
      for (int block = 0; block < 40; ++block) {  // 0.8 s
        const MediaTime at = MediaTime::from_ms(block * 20);
        session.push_pcm("ada", pcm, 16000, 1, at);
        if (block % 5 == 0) session.push_video_frame("ada", *picture, at);
        std::this_thread::sleep_for(20ms);
      }
      ASSERT_TRUE(session.stop().ok());
      ASSERT_TRUE(session.wait().ok());
    };
    std::thread a(run, "first", std::cref(first.sink));
    std::thread b(run, "second", std::cref(second.sink));
    std::thread c(run, "no-sink", LogSink{});
    std::thread d(run, "quiet", std::cref(quiet.sink));
    a.join();
    b.join();
    c.join();
    d.join();
  }
  const std::string err = capture.finish();
  av_log_set_level(AV_LOG_ERROR);
  EXPECT_EQ(err, "") << "libav wrote to the host's stderr";
  for (CapturingSink* sink : {&first, &second}) {
    EXPECT_TRUE(sink->has("[libx264 @ 0x")) << "no x264 line (encoder opened by start())";
    EXPECT_TRUE(sink->has("kb/s:")) << "no x264 statistics (encoder closed on the output thread)";
  }
  const std::set<std::string> a = first.contexts(), b = second.contexts();
  ASSERT_FALSE(a.empty());
  for (const std::string& context : a) EXPECT_EQ(b.count(context), 0u) << context << " logged to both sinks";
  EXPECT_TRUE(quiet.taken().empty()) << "info lines reached a sink at error level: " << quiet.taken().front();
}

// Sessions on one VirtualClock have no thread of their own: their output runs inside
// advance_to() on the caller's thread, which holds a sink of its own. Each session's
// lines still go to that session's sink, none to the caller's, none to stderr.
TEST(LogRoutingTest, VirtualClockSessionsOnOneThreadKeepTheirOwnSinks) {
  const fs::path dir = fresh_dir("log-routing-virtual");
  av_log_set_level(AV_LOG_DEBUG);
  CapturingSink first(LogLevel::kInfo), second(LogLevel::kInfo), caller(LogLevel::kDebug);
  StderrCapture capture;
  {
    const ScopedLogSink caller_scope(caller.sink);
    auto clock = std::make_shared<VirtualClock>();
    Session a({.out_dir = dir / "first", .call_id = "first", .clock = clock, .log = first.sink});
    Session b({.out_dir = dir / "second", .call_id = "second", .clock = clock, .log = second.sink});
    for (Session* s : {&a, &b}) {
      ASSERT_TRUE(s->start().status.ok());
      ASSERT_TRUE(s->join("ada").ok());
    }
    std::vector<int16_t> pcm(320, 1000);
    for (int block = 0; block < 75; ++block) {  // 1.5 s
      for (Session* s : {&a, &b}) s->push_pcm("ada", pcm, 16000, 1, MediaTime::from_ms(block * 20));
      clock->advance(MediaTime::from_ms(20));
    }
    for (Session* s : {&a, &b}) {
      ASSERT_TRUE(s->stop().ok());
      ASSERT_TRUE(s->wait().ok());  // advances the clock to the end: x264's statistics
    }
  }
  const std::string err = capture.finish();
  av_log_set_level(AV_LOG_ERROR);
  EXPECT_EQ(err, "") << "libav wrote to the host's stderr";
  EXPECT_TRUE(caller.contexts().empty()) << "a session's libav lines reached the advancing thread's sink: "
                                         << *caller.contexts().begin();
  for (CapturingSink* sink : {&first, &second}) {
    EXPECT_TRUE(sink->has("[libx264 @ 0x")) << "no x264 line";
    EXPECT_TRUE(sink->has("kb/s:")) << "no x264 statistics (encoder closed inside advance_to())";
  }
  const std::set<std::string> a = first.contexts(), b = second.contexts();
  ASSERT_FALSE(a.empty());
  for (const std::string& context : a) EXPECT_EQ(b.count(context), 0u) << context << " logged to both sinks";
}

}  // namespace
}  // namespace callrec::testing
