// Live capacity: N concurrent live sessions of 9 participants each (Opus 20 ms packets
// and VP8 packets per participant — 320x180 at 15 fps, the low simulcast layer a
// browser sends to a 9-party grid, or 640x360 at 30 fps, the middle layer and the
// bench/compare call — looped from a pre-encoded 4 s talking-head clip so the feeders
// cost almost nothing), run in real time for kSeconds. Arguments: {sessions, 0 = 320x180@15 |
// 1 = 640x360@30}. Reports per N the output
// periods written late (more than one 1/8 s period after their media was final), the
// worst lag, queue drops, and CPU (cores) per session. Keeping up = no late periods and
// no drops. Run: build-perf/bench/live_capacity_bench [--benchmark_filter=/4/]
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/mediagen/media_generator.h"
#include "callrec/session.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

namespace {

using namespace std::chrono_literals;
constexpr int kParticipants = 9;
constexpr int kSeconds = 10;

struct VideoProfile {
  int width, height, fps, bit_rate;
};
constexpr VideoProfile kProfiles[] = {{320, 180, 15, 300'000}, {640, 360, 30, 500'000}};

struct Clip {
  std::vector<std::vector<uint8_t>> opus;  // 20 ms packets
  std::vector<std::vector<uint8_t>> vp8;   // one per picture, a keyframe first
};

// A 4 s talking-head clip (mediagen's talking_head: a detailed still room, a moving
// face, sensor noise; a voice) written as VP8/Opus WebM, then read back packet by packet.
Clip make_clip(VideoProfile v) {
  namespace mg = callrec::mediagen;
  const auto path = std::filesystem::temp_directory_path() /
                    ("callrec_live_clip_" + std::to_string(v.width) + "x" + std::to_string(v.fps) + ".webm");
  mg::write_media(path, {.duration_ms = 4000,
                         .video = mg::VideoSpec{.width = v.width, .height = v.height, .fps = v.fps,
                                                .noise_amplitude = 2, .content = mg::VideoContent::talking_head,
                                                .bit_rate_bps = v.bit_rate},
                         .audio = mg::AudioSpec{.tones = {{0, 4000, 220, 0.3}}}});
  AVFormatContext* raw = nullptr;
  callrec::check_av(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), "opening the clip");
  callrec::av::InputFormatPtr format(raw);
  callrec::check_av(avformat_find_stream_info(raw, nullptr), "probing the clip");
  Clip clip;
  callrec::av::PacketPtr p = callrec::av::make_packet();
  while (av_read_frame(raw, p.get()) >= 0) {
    const bool video = raw->streams[p->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    (video ? clip.vp8 : clip.opus).emplace_back(p->data, p->data + p->size);
    av_packet_unref(p.get());
  }
  std::filesystem::remove(path);
  return clip;
}

const Clip& clip(int profile) {
  static const Clip clips[] = {make_clip(kProfiles[0]), make_clip(kProfiles[1])};
  return clips[profile];
}

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// Feeds one session's 9 participants in real time until `end`.
void feed(callrec::Session& s, std::chrono::steady_clock::time_point end, int profile) {
  const Clip& c = clip(profile);
  const int fps = kProfiles[profile].fps;
  std::vector<std::string> ids;
  for (int p = 0; p < kParticipants; ++p) {
    ids.push_back("8:acs:p" + std::to_string(p));
    (void)s.join(ids.back(), "P " + std::to_string(p));
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t tick = 0;; ++tick) {  // 20 ms ticks; video at its frame rate
    const auto at = t0 + tick * 20ms;
    if (at >= end) break;
    std::this_thread::sleep_until(at);
    for (int p = 0; p < kParticipants; ++p) {
      (void)s.push_opus(ids[p], c.opus[tick % c.opus.size()], uint32_t(tick * 960));
      // Every frame due by this tick (30 fps: one or two per 20 ms), 90 kHz RTP time.
      for (int64_t frame = tick == 0 ? 0 : (tick * 20 * fps + 999) / 1000; frame < ((tick + 1) * 20 * fps + 999) / 1000;
           ++frame) {
        (void)s.push_video_packet(ids[p], callrec::VideoCodec::kVp8, c.vp8[frame % c.vp8.size()],
                                  uint32_t(frame * 90000 / fps));
      }
    }
  }
}

void BM_LiveSessions(benchmark::State& state) {
  av_log_set_level(AV_LOG_QUIET);
  const int n = static_cast<int>(state.range(0));
  const int profile = static_cast<int>(state.range(1));
  clip(profile);
  for (auto _ : state) {
    const auto root = std::filesystem::temp_directory_path() / "callrec_live_capacity";
    std::filesystem::remove_all(root);
    std::vector<std::unique_ptr<callrec::Session>> sessions;
    for (int i = 0; i < n; ++i)
      sessions.push_back(std::make_unique<callrec::Session>(
          callrec::SessionConfig{.out_dir = root / std::to_string(i), .call_id = "bench"}));
    const double cpu0 = process_cpu_s();
    for (auto& s : sessions) (void)s->start();
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(kSeconds);
    std::vector<std::thread> feeders;
    for (auto& s : sessions) feeders.emplace_back([&s, end, profile] { feed(*s, end, profile); });
    for (auto& f : feeders) f.join();
    int64_t late = 0, drops = 0, max_lag = 0, periods = 0;
    for (auto& s : sessions) {
      (void)s->stop();
      (void)s->wait();
      const callrec::SessionStats st = s->stats();
      late += st.periods_late;
      drops += st.media_dropped_queue_full;
      periods += st.periods_written;
      max_lag = std::max(max_lag, st.max_output_lag_ms);
    }
    const double cpu = process_cpu_s() - cpu0;
    state.counters["late_periods"] = double(late);
    state.counters["periods"] = double(periods);
    state.counters["queue_drops"] = double(drops);
    state.counters["max_lag_ms"] = double(max_lag);
    state.counters["cpu_cores_per_session"] = cpu / kSeconds / n;
    state.counters["keeps_up"] = late == 0 && drops == 0 ? 1 : 0;
    sessions.clear();
    std::filesystem::remove_all(root);
  }
}
BENCHMARK(BM_LiveSessions)
    ->ArgsProduct({{1, 2, 4, 6, 8}, {0, 1}})
    ->ArgNames({"sessions", "vga30"})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace
