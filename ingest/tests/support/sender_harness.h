// For the real-sender tests: free UDP ports, an external sender run with a time limit,
// a sink that keeps every unit with its arrival time, libavcodec decoding of what came
// out, and a UDP relay that delays, drops or inspects packets on their way.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "callrec/ingest/clock.h"
#include "callrec/ingest/media_sink.h"

namespace callrec::ingest::test {

// A port p with p and p + 1 free on 127.0.0.1 (RTP and RTCP).
uint16_t free_port_pair();

// Runs `command` through the shell; returns its exit status.
int run_command(const std::string& command);
// Whether `program` is on the PATH.
bool have_program(const std::string& program);

struct Unit {
  bool audio = false;
  int stream = 0;
  int64_t capture_us = 0;
  int64_t arrival_us = 0;  // when the sink got it
  bool keyframe = false;
  uint32_t rtp_timestamp = 0;
  uint32_t ssrc = 0;
  int64_t lost_before = 0;
  int64_t silence_before_48k = 0;
  bool segment_start = false;
  std::optional<int> temporal_layer;
  std::vector<uint8_t> data;
};

class CollectingSink : public MediaSink {
 public:
  explicit CollectingSink(const Clock& clock) : clock_(clock) {}
  void on_audio(const AudioPacket& p) override;
  void on_video(const VideoFrame& f) override;
  std::vector<Unit> units() const;
  std::vector<Unit> audio() const;
  std::vector<Unit> video(int stream = -1) const;

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::vector<Unit> units_;
};

struct DecodeResult {
  int decoded = 0;       // frames out
  int errors = 0;        // send/receive errors and frames flagged corrupt
  int width = 0, height = 0;
  std::vector<double> mean_luma;  // per decoded video picture
  std::vector<double> rms;        // per decoded audio frame
};
// Decodes units in order with libavcodec ("opus", "vp8", "h264").
DecodeResult decode(const std::string& decoder, const std::vector<Unit>& units);

// A UDP relay on loopback: each route listens on `from_port` and forwards to
// `to_port`, delayed by `delay_us`; `drop` may decide to drop a datagram (by index);
// `inspect` sees every datagram. Replies from the destination go back to the last source.
class UdpRelay {
 public:
  struct Route {
    uint16_t from_port;
    uint16_t to_port;
    int64_t delay_us = 0;
    std::function<bool(int64_t index, const std::vector<uint8_t>&)> drop;
    std::function<void(const std::vector<uint8_t>&)> inspect;
    // Reordering: a datagram for which this says true is held and sent right after the
    // next one (the two swap places).
    std::function<bool(int64_t index)> swap_with_next;
  };
  explicit UdpRelay(std::vector<Route> routes);
  ~UdpRelay();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec::ingest::test
