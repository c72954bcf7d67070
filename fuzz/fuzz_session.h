// A live session for the fuzzers: the real live driver (LiveSession: queues, RTP clocks,
// decoders, mixer, compositor) on a VirtualClock, writing into a CheckingWriter instead
// of the H.264/AAC encoders (which would cost a hundred times the rest), on a 320x180
// canvas. The writer checks what the core hands it (a canvas of the right size, audio
// finite and within the limiter's [-1, 1]) and never fails, so a recording that ends
// with an output failure was ended by what a participant sent: a finding.
#pragma once

#include <cmath>
#include <memory>
#include <span>

#include "callrec/core/clock.h"
#include "live_session.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace callrec::fuzzing {

inline constexpr compositor::Size kFuzzCanvas{320, 180};

class CheckingWriter final : public engine::PeriodWriter {
 public:
  void write_period(const AVFrame& video, std::span<const float> audio) override {
    if (video.width != kFuzzCanvas.width || video.height != kFuzzCanvas.height || video.format != AV_PIX_FMT_YUV420P)
      __builtin_trap();
    if (audio.size() > 2000) __builtin_trap();
    for (const float s : audio)
      if (!std::isfinite(s) || s < -1.0f || s > 1.0f) __builtin_trap();  // the limiter's contract
  }
  nlohmann::json finish(const std::string&) override { return nlohmann::json::object(); }
};

// A started session with `participants` joined ("8:acs:p0", ...).
class FuzzSession {
 public:
  explicit FuzzSession(int participants)
      : clock_(std::make_shared<VirtualClock>()),
        // A short jitter window and small queues: less virtual time to run per input, and
        // the queue-full paths within reach.
        session_({.out_dir = "/nonexistent/callrec-fuzz",
                  .call_id = "fuzz",
                  .jitter_window = std::chrono::milliseconds(60),
                  .queue_capacity = 32,
                  .clock = clock_},
                 {.make_writer = [](const muxer::RecordingConfig&,
                                    muxer::ChunkAnnotator&) { return std::make_unique<CheckingWriter>(); },
                  .compositor = {.canvas = kFuzzCanvas}}) {
    for (int p = 0; p < participants; ++p) (void)session_.join(id(p), "Fuzz Er");
    if (!session_.start("").status) __builtin_trap();
  }

  static std::string id(int participant) { return "8:acs:p" + std::to_string(participant); }
  engine::LiveSession& session() { return session_; }
  VirtualClock& clock() { return *clock_; }
  void advance_ms(int64_t ms) { clock_->advance(MediaTime::from_ms(ms)); }

  // Stops and runs the output to the end; an output failure is a finding.
  void finish() {
    (void)session_.stop("");
    const Status s = session_.wait();
    if (s.code() == SessionErrc::kOutputFailed) __builtin_trap();
  }

 private:
  std::shared_ptr<VirtualClock> clock_;
  engine::LiveSession session_;
};

}  // namespace callrec::fuzzing
