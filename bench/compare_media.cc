// compare_media OUTDIR: the benchmark call of bench/compare.
//
// Writes N participants' captured media (640x360 at 30 fps VP8 + 48 kHz Opus in WebM,
// as a browser sends them) and a callrec manifest that starts every participant at 0.
// Content is either talking heads (a still, detailed room with one moving face and a
// little sensor noise) or full motion (the whole picture scrolls). Participants take
// turns talking (a tone per participant), so the mixer has real work.
//
// To keep generation time sane for large calls, at most --distinct files are made and
// participant i uses file i % distinct; callrec still decodes every participant's file
// on its own, so the cost is the same as with N distinct files.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "callrec/mediagen/media_generator.h"

namespace {

using callrec::mediagen::AudioSpec;
using callrec::mediagen::MediaSpec;
using callrec::mediagen::ToneSegment;
using callrec::mediagen::VideoContent;
using callrec::mediagen::VideoSpec;

constexpr int64_t kTurnMs = 1500;  // each participant talks this long, in turn

MediaSpec participant_spec(int index, int participants, int64_t duration_ms, VideoContent content,
                           int noise_amplitude, int keyframe_interval_frames, int temporal_layers) {
  MediaSpec spec;
  spec.duration_ms = duration_ms;
  VideoSpec video;
  video.width = 640;
  video.height = 360;
  video.fps = 30;
  video.content = content;
  video.seed = static_cast<uint32_t>(index + 1);
  video.noise_amplitude = noise_amplitude;
  video.bit_rate_bps = 500'000;
  video.keyframe_interval_frames = keyframe_interval_frames;
  video.temporal_layers = temporal_layers;
  spec.video = video;
  AudioSpec audio;
  audio.sample_rate_hz = 48000;
  for (int64_t at = static_cast<int64_t>(index) * kTurnMs; at < duration_ms; at += participants * kTurnMs)
    audio.tones.push_back(ToneSegment{at, std::min(duration_ms, at + kTurnMs), 160.0 + 23.0 * index, 0.25});
  spec.audio = audio;
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes the benchmark call (participants' WebM files and manifest.json) for bench/compare"};
  std::filesystem::path out_dir;
  int participants = 9;
  int distinct = 9;
  double seconds = 60;
  std::string content_name = "talking";
  int noise_amplitude = 2;
  int keyframe_interval_frames = 3000;
  int temporal_layers = 1;
  app.add_option("OUTDIR", out_dir, "directory to write into")->required();
  app.add_option("--participants", participants, "participants in the call")->check(CLI::Range(1, 49));
  app.add_option("--distinct", distinct, "at most this many distinct files (participant i uses i % distinct)")
      ->check(CLI::Range(1, 49));
  app.add_option("--seconds", seconds, "call length")->check(CLI::Range(1.0, 7200.0));
  app.add_option("--content", content_name, "talking (talking heads) or motion (full motion)")
      ->check(CLI::IsMember({"talking", "motion"}));
  app.add_option("--noise", noise_amplitude, "sensor noise amplitude (luma steps)")->check(CLI::Range(0, 40));
  app.add_option("--keyframe-interval", keyframe_interval_frames,
                 "camera frames between the senders' keyframes (WebRTC's VP8 encoder: 3000)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--temporal-layers", temporal_layers,
                 "VP8 temporal layers per camera (1: none; 3: as a browser sends with simulcast)")
      ->check(CLI::Range(1, 3));
  CLI11_PARSE(app, argc, argv);

  const VideoContent content = content_name == "talking" ? VideoContent::talking_head : VideoContent::full_motion;
  const auto duration_ms = static_cast<int64_t>(seconds * 1000);
  const int files = std::min(distinct, participants);
  try {
    std::filesystem::create_directories(out_dir);
    for (int i = 0; i < files; ++i)
      callrec::mediagen::write_media(out_dir / ("p" + std::to_string(i) + ".webm"),
                                     participant_spec(i, files, duration_ms, content, noise_amplitude,
                                                      keyframe_interval_frames, temporal_layers));
    nlohmann::json manifest{{"callId", "bench-" + content_name + "-" + std::to_string(participants)},
                            {"recordingStartTime", "2026-01-01T00:00:00Z"},
                            {"participants", nlohmann::json::array()}};
    for (int i = 0; i < participants; ++i)
      manifest["participants"].push_back(
          {{"participantId", "8:acs:bench-" + std::to_string(i)},
           {"media", {{{"file", "p" + std::to_string(i % files) + ".webm"}, {"offsetMs", 0}}}}});
    std::ofstream(out_dir / "manifest.json") << manifest.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "compare_media: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
