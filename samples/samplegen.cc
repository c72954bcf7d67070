// callrec-samplegen OUTDIR [--duration-scale N]
//
// Makes the sample call: four participants' media files, written with libav encoders,
// and the manifest `call.json` that callrec renders. Nothing big is committed: the
// media is generated here.
//   ada   WebM (VP8 + Opus), 640x360 landscape, talks in turns from the start
//   bob   MP4 (H.264 + AAC), 360x640 portrait phone camera, joins late
//   carol Ogg (Opus), audio only: a placeholder tile
//   dan   WebM (VP8), 480x360 (4:3), video only, leaves early
// The call is paused once. With --duration-scale N every time is multiplied by N
// (used to check that memory stays flat for a longer call).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "callrec/core/error.h"
#include "callrec/mediagen/media_generator.h"

extern "C" {
#include <libavutil/log.h>
}

namespace mg = callrec::mediagen;

namespace {

// Talking in turns: a tone every other `turn_ms`, starting at `phase_ms`.
std::vector<mg::ToneSegment> turns(int64_t duration_ms, int64_t turn_ms, int64_t phase_ms, double hz) {
  std::vector<mg::ToneSegment> out;
  for (int64_t t = phase_ms; t < duration_ms; t += 2 * turn_ms)
    out.push_back({t, std::min(duration_ms, t + turn_ms), hz, 0.25});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Makes the sample call's media and manifest"};
  std::filesystem::path out_dir;
  int scale = 1;
  app.add_option("outdir", out_dir, "Directory to write the media and call.json into")->required();
  app.add_option("--duration-scale", scale, "Multiply every time of the call by this")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  av_log_set_level(AV_LOG_ERROR);

  try {
    std::filesystem::create_directories(out_dir);
    const int64_t s = scale;
    const int64_t call_ms = 60'000 * s;

    mg::MediaSpec ada{.duration_ms = call_ms,
                      .video = mg::VideoSpec{.width = 640, .height = 360, .fps = 30, .colour = {200, 60, 50},
                                             .encoder = "libvpx"},
                      .audio = mg::AudioSpec{.sample_rate_hz = 48000, .channels = 2,
                                             .tones = turns(call_ms, 3000, 0, 440), .encoder = "libopus"}};
    mg::MediaSpec bob{.duration_ms = 40'000 * s,
                      .video = mg::VideoSpec{.width = 360, .height = 640, .fps = 24, .colour = {40, 160, 60},
                                             .encoder = "libx264"},
                      .audio = mg::AudioSpec{.sample_rate_hz = 44100, .channels = 1,
                                             .tones = turns(40'000 * s, 3000, 3000, 660), .encoder = "aac"}};
    mg::MediaSpec carol{.duration_ms = call_ms,
                        .audio = mg::AudioSpec{.sample_rate_hz = 48000, .channels = 1,
                                               .tones = turns(call_ms, 5000, 1500, 550), .encoder = "libopus"}};
    mg::MediaSpec dan{.duration_ms = 45'000 * s,
                      .video = mg::VideoSpec{.width = 480, .height = 360, .fps = 15, .colour = {60, 80, 200},
                                             .encoder = "libvpx"}};

    const std::vector<std::pair<std::string, const mg::MediaSpec*>> files{
        {"ada.webm", &ada}, {"bob.mp4", &bob}, {"carol.ogg", &carol}, {"dan.webm", &dan}};
    for (const auto& [name, spec] : files) {
      std::cerr << "writing " << (out_dir / name).string() << "\n";
      mg::write_media(out_dir / name, *spec);
    }

    const nlohmann::json manifest = {
        {"callId", "c0ffee-sample-call"},
        {"resourceId", "sample-resource"},
        {"recordingStartTime", "2026-11-27T10:00:00Z"},
        {"participants",
         {{{"participantId", "8:acs:ada"}, {"displayName", "Ada Lovelace"},
           {"media", {{{"file", "ada.webm"}, {"offsetMs", 0}}}}},
          {{"participantId", "8:acs:bob"}, {"displayName", "Bob Marley"},
           {"media", {{{"file", "bob.mp4"}, {"offsetMs", 12'000 * s}}}}},
          {{"participantId", "8:acs:carol"}, {"displayName", "Carol Shaw"},
           {"media", {{{"file", "carol.ogg"}, {"offsetMs", 0}}}}},
          {{"participantId", "8:acs:dan"}, {"displayName", "Dan Bricklin"},
           {"media", {{{"file", "dan.webm"}, {"offsetMs", 0}}}}}}},
        {"timeline",
         {{{"atMs", 0}, {"action", "start"}},
          {{"atMs", 20'000 * s}, {"action", "pause"}},
          {{"atMs", 30'000 * s}, {"action", "resume"}},
          {{"atMs", 60'000 * s}, {"action", "stop"}}}}};
    std::ofstream(out_dir / "call.json") << manifest.dump(2) << "\n";
    std::cout << (out_dir / "call.json").string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "callrec-samplegen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
