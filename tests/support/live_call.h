// Live sessions in virtual time, for tests: the media a WebRTC backend pushes (Opus
// packets, VP8 / H.264 frames, PCM, pictures; made with libavcodec encoders), senders
// that push it on schedule (with a network delay and loss of their own, from a seeded
// generator), and a call that runs a Session on a VirtualClock in 20 ms ticks, then
// decodes what it wrote.
//
// Everything runs on the test's thread: the session's output work happens inside the
// clock's advance, so a run is the same on a loaded machine as on an idle one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callrec/core/av.h"
#include "callrec/core/clock.h"
#include "callrec/session.h"
#include "decoded_media.h"

namespace callrec::testing {

using Packets = std::vector<std::vector<uint8_t>>;

// 20 ms Opus packets (48 kHz mono) of a tone of `hz` at `amplitude` (of full scale).
Packets opus_tone(double hz, double amplitude, int64_t duration_ms);
// `frames` encoded frames of a flat colour, 320x180 at `fps`, a keyframe every `gop`.
Packets video_colour(VideoCodec codec, Yuv colour, int fps, int frames, int gop);
// A yuv420p picture of a flat colour.
av::FramePtr picture(int width, int height, Yuv colour);
// An audio frame of `samples` samples carrying a tone in every channel, in any format
// and channel count (`layout_order_unspec`: the layout only counts channels).
av::FramePtr tone_frame(int rate_hz, int channels, int sample_format, int samples, int64_t first_sample, double hz,
                        double amplitude);

// Colours of the test tiles (limited-range BT.601).
inline constexpr Yuv kRed{81, 90, 240};
inline constexpr Yuv kGreen{145, 54, 34};
inline constexpr Yuv kBlue{41, 240, 110};

// A Session on a VirtualClock, with its events and output directory.
class VirtualCall {
 public:
  // `tune` may adjust the session's config before it is made.
  explicit VirtualCall(const std::string& name, std::function<void(SessionConfig&)> tune = {});
  ~VirtualCall();

  Session& session() { return *session_; }
  VirtualClock& clock() { return *clock_; }
  const std::filesystem::path& out() const { return out_; }
  const std::vector<SessionEvent>& events() const { return events_; }
  int64_t now_ms() const { return clock_->now().ms(); }

  // Calls each tick function at every 20 ms of call time from now until `until_ms`, then
  // advances the clock by 20 ms.
  void run_until(int64_t until_ms, const std::vector<std::function<void(int64_t call_ms)>>& ticks);

  // Stops the recording (wait() advances the clock to its end) and reads it back: the
  // notification, each chunk's metadata and the first chunk decoded, with the picture
  // at output time `picture_at_ms` (and `more_pictures_ms`) kept.
  struct Recording {
    Status status;
    nlohmann::json notification;
    std::vector<nlohmann::json> chunks;
    DecodedChunk media;
    std::map<int64_t, av::FramePtr> pictures;  // output ms -> picture
  };
  Recording finish(std::vector<int64_t> picture_at_ms);

 private:
  std::filesystem::path out_;
  std::shared_ptr<VirtualClock> clock_;
  std::vector<SessionEvent> events_;
  std::unique_ptr<Session> session_;
};

// The centre of tile `index` of an n-tile grid, and the colour there.
Yuv tile_colour(const AVFrame& canvas, int tiles, int index);
bool near(Yuv a, Yuv b, int tolerance = 14);
// Amplitude of `hz` in output seconds [from_s, to_s) of a 16 kHz recording.
double tone_between(const std::vector<float>& audio, double hz, double from_s, double to_s);
// The mediaProblems lines of every chunk, and the participantMediaStats entry of one.
std::vector<std::string> media_problems(const std::vector<nlohmann::json>& chunks);
nlohmann::json participant_stats(const nlohmann::json& chunk, const std::string& participant_id);

// A sender's network: each packet is delayed by 0..max_delay_ms (uniform; later ones
// overtake earlier ones) or lost, from a generator seeded with `seed`.
struct Network {
  int max_delay_ms = 0;
  int loss_percent = 0;
  unsigned seed = 1;
  // The first packet arrives without delay (it anchors the RTP clock at its arrival).
  bool first_on_time = false;
};

// Pushes a participant's packets on schedule, through a Network of its own.
class RtpSender {
 public:
  // Opus: packet k is sent at start_ms + 20 k with RTP timestamp rtp_base + 960 k.
  static RtpSender opus(Session& s, std::string id, Packets packets, int64_t start_ms, uint32_t rtp_base,
                        Network net = {});
  // Video: frame k is sent at start_ms + 1000 k / fps with RTP timestamp rtp_base + 90000 k / fps.
  static RtpSender video(Session& s, std::string id, VideoCodec codec, Packets frames, int fps, int64_t start_ms,
                         uint32_t rtp_base, Network net = {}, VideoTrack track = VideoTrack::kCamera);

  // Sends what is due by `call_ms` and delivers what has arrived.
  void tick(int64_t call_ms);
  int sent() const { return sent_; }
  int lost() const { return lost_; }
  int refused() const { return refused_; }
  const std::vector<size_t>& lost_indices() const { return lost_indices_; }
  // Delivers packets sent from `from_ms` (inclusive) to `to_ms` (exclusive) `extra_ms`
  // later than the network would.
  void hold_back(int64_t from_ms, int64_t to_ms, int extra_ms) { hold_ = {from_ms, to_ms, extra_ms}; }

 private:
  struct InFlight {
    int64_t arrive_ms;
    size_t index;
  };
  Session* session_ = nullptr;
  std::string id_;
  bool audio_ = true;
  VideoCodec codec_ = VideoCodec::kVp8;
  VideoTrack track_ = VideoTrack::kCamera;
  Packets packets_;
  int64_t start_ms_ = 0;
  int fps_ = 50;
  uint32_t rtp_base_ = 0;
  Network net_;
  std::mt19937 rng_;
  size_t next_ = 0;
  std::vector<InFlight> in_flight_;
  std::vector<size_t> lost_indices_;
  struct Hold {
    int64_t from_ms = 0, to_ms = 0;
    int extra_ms = 0;
  } hold_;
  int sent_ = 0, lost_ = 0, refused_ = 0;
};

}  // namespace callrec::testing
