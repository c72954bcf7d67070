// live_rtp_capacity: how many 9-party live recordings fed by RTP this machine keeps, and
// what one costs against the ffmpeg command and the offline render of the same call,
// all measured in one run (machines here vary 2x from day to day: only ratios hold).
//
//   build/compare_media /tmp/call --participants 9 --seconds 10
//   build/live/live_rtp_capacity --call /tmp/call --callrec build/callrec --sessions 1,2,4 --seconds 10
//
// For each session count and for plain VP8 and VP8 with temporal layers (L1T3, as
// WebRTC sends): N sessions, each a Session with a LiveIngest listening on loopback,
// each fed by a sender thread that sends its 9 participants' Opus and 640x360@30 VP8 as
// RTP in real time (packets of the call's WebM files, looped; the layered variant sends
// one L1T3 clip for everyone). Reported: CPU cores per recording (the process's CPU less
// the sender threads'), output periods written late (more than 125 ms after due), the
// worst lag, queue drops; then the ratio to the ffmpeg command (fps + xstack + amix,
// libx264 and aac at their defaults) and to `callrec render` on the same call, both
// run here, offline, their CPU per second of media.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/live_ingest.h"
#include "callrec/session.h"
#include "rtp_packetizer.h"
#include "vp8_layers.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using callrec::ingest::test::LayeredFrame;

constexpr int kParticipants = 9;

struct VideoUnit {
  std::vector<uint8_t> data;
  std::optional<int> temporal_layer;
};
struct Clip {
  std::vector<std::vector<uint8_t>> opus;  // 20 ms packets
  std::vector<VideoUnit> video;            // 30 fps, a key frame first
};

Clip read_clip(const fs::path& file) {
  AVFormatContext* raw = nullptr;
  callrec::check_av(avformat_open_input(&raw, file.c_str(), nullptr, nullptr), file.string());
  callrec::av::InputFormatPtr format(raw);
  callrec::check_av(avformat_find_stream_info(raw, nullptr), file.string());
  Clip clip;
  callrec::av::PacketPtr p = callrec::av::make_packet();
  while (av_read_frame(raw, p.get()) >= 0) {
    if (raw->streams[p->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
      clip.video.push_back({std::vector<uint8_t>(p->data, p->data + p->size), std::nullopt});
    else
      clip.opus.emplace_back(p->data, p->data + p->size);
    av_packet_unref(p.get());
  }
  return clip;
}

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}
double children_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// One session's 9 senders: RTP over loopback, in real time, until `end`.
double send(const std::vector<const Clip*>& clips, const std::vector<std::pair<uint16_t, uint16_t>>& ports,
            std::chrono::steady_clock::time_point end) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const auto to = [](uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  };
  struct Sender {
    callrec::ingest::test::RtpSequenceWriter audio, video;
    int picture_id = 0, tl0 = 0;
  };
  std::vector<Sender> senders;
  for (int p = 0; p < kParticipants; ++p)
    senders.push_back({{97, static_cast<uint32_t>(0x1000 + p)}, {96, static_cast<uint32_t>(0x2000 + p)}});
  const auto put = [&](uint16_t port, const std::vector<uint8_t>& d) {
    const sockaddr_in a = to(port);
    ::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  };
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t tick = 0;; ++tick) {  // 20 ms ticks; video at 30 fps
    const auto at = t0 + tick * 20ms;
    if (at >= end) break;
    std::this_thread::sleep_until(at);
    for (int p = 0; p < kParticipants; ++p) {
      const Clip& c = *clips[static_cast<size_t>(p)];
      Sender& s = senders[static_cast<size_t>(p)];
      for (const auto& packet : s.audio.frame({c.opus[static_cast<size_t>(tick) % c.opus.size()]}, uint32_t(tick * 960)))
        put(ports[static_cast<size_t>(p)].first, packet);
      for (int64_t frame = (tick * 20 * 30 + 999) / 1000; frame < ((tick + 1) * 20 * 30 + 999) / 1000; ++frame) {
        const VideoUnit& v = c.video[static_cast<size_t>(frame) % c.video.size()];
        callrec::ingest::test::Vp8PayloadLayers layers{.picture_id = s.picture_id++ & 0x7fff};
        if (v.temporal_layer) {
          if (*v.temporal_layer == 0) ++s.tl0;
          layers.tl0_pic_idx = s.tl0 & 0xff;
          layers.temporal_layer = *v.temporal_layer;
          layers.layer_sync = *v.temporal_layer > 0;
        }
        for (const auto& packet : s.video.frame(callrec::ingest::test::packetize_vp8(v.data, layers), uint32_t(frame * 3000)))
          put(ports[static_cast<size_t>(p)].second, packet);
      }
    }
  }
  ::close(fd);
  return thread_cpu_s();
}

struct LiveResult {
  double cpu_per_recording = 0;  // cores
  int64_t late = 0, periods = 0, max_lag_ms = 0, drops = 0, refused = 0;
};

LiveResult run_live(int n, bool layered, const std::vector<Clip>& clips, const Clip& layered_clip, int seconds,
                    const fs::path& root) {
  std::vector<std::unique_ptr<callrec::Session>> sessions;
  std::vector<std::unique_ptr<callrec::LiveIngest>> ingests;
  std::vector<std::vector<std::pair<uint16_t, uint16_t>>> ports(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    sessions.push_back(std::make_unique<callrec::Session>(
        callrec::SessionConfig{.out_dir = root / std::to_string(i), .call_id = "bench"}));
    ingests.push_back(std::make_unique<callrec::LiveIngest>(*sessions.back()));
    (void)sessions.back()->start();
    for (int p = 0; p < kParticipants; ++p) {
      const auto added = ingests.back()->add_participant(
          "p" + std::to_string(p),
          callrec::RtpParticipantMedia{{{.codec = callrec::RtpCodec::kOpus, .payload_type = 97},
                                        {.codec = callrec::RtpCodec::kVp8, .payload_type = 96}}});
      if (!added.status.ok()) throw callrec::Error(added.status.message());
      ports[static_cast<size_t>(i)].push_back({added.streams[0].rtp_port, added.streams[1].rtp_port});
    }
  }
  std::vector<const Clip*> per_participant;
  for (int p = 0; p < kParticipants; ++p)
    per_participant.push_back(layered ? &layered_clip : &clips[static_cast<size_t>(p) % clips.size()]);
  const double cpu0 = process_cpu_s();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<double> sender_cpu(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] { sender_cpu[static_cast<size_t>(i)] = send(per_participant, ports[static_cast<size_t>(i)], end); });
  for (auto& t : threads) t.join();
  LiveResult r;
  for (int i = 0; i < n; ++i) {
    (void)sessions[static_cast<size_t>(i)]->stop();
    (void)sessions[static_cast<size_t>(i)]->wait();
    const callrec::SessionStats st = sessions[static_cast<size_t>(i)]->stats();
    r.late += st.periods_late;
    r.periods += st.periods_written;
    r.drops += st.media_dropped_queue_full;
    r.max_lag_ms = std::max(r.max_lag_ms, st.max_output_lag_ms);
    for (int p = 0; p < kParticipants; ++p)
      for (const auto& s : ingests[static_cast<size_t>(i)]->stats("p" + std::to_string(p))) r.refused += s.pushes_refused;
  }
  double senders = 0;
  for (double c : sender_cpu) senders += c;
  r.cpu_per_recording = (process_cpu_s() - cpu0 - senders) / seconds / n;
  ingests.clear();
  sessions.clear();
  return r;
}

// CPU seconds a child command took (it must succeed).
double child_cpu_s(const std::string& command) {
  const double before = children_cpu_s();
  if (std::system(command.c_str()) != 0) throw callrec::Error("failed: " + command);
  return children_cpu_s() - before;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Live capacity: 9-party recordings fed by RTP, against ffmpeg and the offline render"};
  fs::path call, callrec_binary;
  std::vector<int> session_counts{1, 2, 4};
  int seconds = 10;
  app.add_option("--call", call, "A call written by compare_media (9 participants)")->required();
  app.add_option("--callrec", callrec_binary, "The callrec binary (for the offline render)")->required();
  app.add_option("--sessions", session_counts, "Concurrent recordings to try")->delimiter(',');
  app.add_option("--seconds", seconds, "Seconds of each live run")->check(CLI::Range(2, 120));
  CLI11_PARSE(app, argc, argv);
  av_log_set_level(AV_LOG_QUIET);
  try {
    const auto manifest = nlohmann::json::parse(std::ifstream(call / "manifest.json"));
    std::vector<fs::path> files;
    for (const auto& p : manifest["participants"]) files.push_back(call / p["media"][0]["file"].get<std::string>());
    if (files.size() != kParticipants) throw callrec::Error("the call must have 9 participants");
    std::vector<Clip> clips;
    for (size_t i = 0; i < files.size(); ++i) {
      if (i > 0 && files[i] == files[i - 1]) continue;
      clips.push_back(read_clip(files[i]));
    }
    Clip layered = clips.front();  // its Opus; video: an L1T3 clip
    layered.video.clear();
    for (const LayeredFrame& f : callrec::ingest::test::encode_vp8_l1t3(120, 30))
      layered.video.push_back({f.data, f.temporal_layer});

    const double media_s = manifest.contains("durationMs") ? manifest["durationMs"].get<double>() / 1000 : 0;
    // The ffmpeg command: fps=8 per input, a 3x3 xstack of 640x360 tiles (1920x1080),
    // amix to 16 kHz mono; libx264 and aac with their defaults.
    std::string inputs, filter;
    for (int i = 0; i < kParticipants; ++i) {
      inputs += " -i " + files[static_cast<size_t>(i)].string();
      filter += "[" + std::to_string(i) + ":v]fps=8[t" + std::to_string(i) + "];";
    }
    for (int i = 0; i < kParticipants; ++i) filter += "[t" + std::to_string(i) + "]";
    filter += "xstack=inputs=9:layout=0_0|640_0|1280_0|0_360|640_360|1280_360|0_720|640_720|1280_720[v];";
    for (int i = 0; i < kParticipants; ++i) filter += "[" + std::to_string(i) + ":a]";
    filter += "amix=inputs=9,aresample=16000,aformat=channel_layouts=mono[a]";
    const fs::path root = fs::temp_directory_path() / "callrec_live_rtp_capacity";
    fs::remove_all(root);
    fs::create_directories(root);
    const std::string ffmpeg = "ffmpeg -hide_banner -loglevel error -y" + inputs + " -filter_complex '" + filter +
                               "' -map '[v]' -map '[a]' -c:v libx264 -c:a aac " + (root / "ffmpeg.mp4").string();
    const double ffmpeg_cpu = child_cpu_s(ffmpeg);
    const double render_cpu = child_cpu_s(callrec_binary.string() + " render " + (call / "manifest.json").string() +
                                          " --out " + (root / "render").string() + " -q >/dev/null");
    // Media length: the longest input (compare_media writes every participant at 0).
    double seconds_of_media = media_s;
    if (seconds_of_media <= 0) {
      AVFormatContext* raw = nullptr;
      callrec::check_av(avformat_open_input(&raw, files[0].c_str(), nullptr, nullptr), files[0].string());
      callrec::av::InputFormatPtr f(raw);
      callrec::check_av(avformat_find_stream_info(raw, nullptr), files[0].string());
      seconds_of_media = static_cast<double>(raw->duration) / AV_TIME_BASE;
    }
    const double ffmpeg_cores = ffmpeg_cpu / seconds_of_media, render_cores = render_cpu / seconds_of_media;
    std::printf("call: %s, %.1f s of media\n", call.c_str(), seconds_of_media);
    std::printf("ffmpeg command (fps+xstack+amix, libx264/aac defaults): %.3f CPU s per media s\n", ffmpeg_cores);
    std::printf("callrec render (offline):                              %.3f CPU s per media s\n", render_cores);
    std::printf("%8s %8s %10s %9s %12s %9s %12s %9s %9s\n", "sessions", "layers", "cores/rec", "vs ffmpeg",
                "vs render", "late", "max lag ms", "dropped", "refused");
    for (const bool with_layers : {false, true}) {
      for (const int n : session_counts) {
        const LiveResult r = run_live(n, with_layers, clips, layered, seconds, root / "live");
        std::printf("%8d %8s %10.3f %8.2fx %11.2fx %4lld/%-4lld %12lld %9lld %9lld\n", n, with_layers ? "L1T3" : "none",
                    r.cpu_per_recording, r.cpu_per_recording / ffmpeg_cores, r.cpu_per_recording / render_cores,
                    static_cast<long long>(r.late), static_cast<long long>(r.periods),
                    static_cast<long long>(r.max_lag_ms), static_cast<long long>(r.drops),
                    static_cast<long long>(r.refused));
        std::fflush(stdout);
      }
    }
    fs::remove_all(root);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "live_rtp_capacity: %s\n", e.what());
    return 1;
  }
  return 0;
}
