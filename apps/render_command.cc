// callrec render MANIFEST.json --out DIR [--max-chunk-bytes N] [--quiet] ...
//
// Renders a call from its manifest and captured media (docs/contract.md, "The call manifest").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "callrec/core/error.h"
#include "callrec/engine/manifest.h"
#include "callrec/engine/offline_renderer.h"
#include "command.h"

namespace callrec::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Refuses to mix a new recording into a directory that holds one, unless forced.
void prepare_out_dir(const std::filesystem::path& dir, bool force) {
  std::error_code ec;
  if (!std::filesystem::exists(dir / "recording.json", ec)) return;
  if (!force)
    throw Error(dir.string() + ": already holds a recording (recording.json); choose another --out or pass --force");
  // Remove only what a recording writes: chunk media, chunk metadata, the notification.
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    const auto ext = f.path().extension();
    if (f.is_regular_file() && (ext == ".mp4" || ext == ".json" || ext == ".part")) std::filesystem::remove(f.path(), ec);
  }
}

class ProgressLine {
 public:
  void operator()(const engine::RenderProgress& p) {
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    const double wall_s = std::chrono::duration<double>(now - start_).count();
    const double speed = wall_s > 0 ? p.output_us / 1e6 / wall_s : 0;
    char line[160];
    if (p.call_end_us && *p.call_end_us > 0) {
      const double pct = std::min(100.0, 100.0 * static_cast<double>(p.call_us) / static_cast<double>(*p.call_end_us));
      // Inputs without a stated duration: the end is extrapolated, and the line says so.
      std::snprintf(line, sizeof line, "rendering: %s%.1f%% of the call%s, %.1f s recorded, %.1fx real time",
                    p.call_end_estimated ? "~" : "", pct, p.call_end_estimated ? " (estimated)" : "",
                    static_cast<double>(p.output_us) / 1e6, speed);
    } else {
      std::snprintf(line, sizeof line, "rendering: %.1f s recorded, %.1fx real time",
                    static_cast<double>(p.output_us) / 1e6, speed);
    }
    // Padded over the longer line it replaces.
    const int length = static_cast<int>(std::strlen(line));
    std::fprintf(stderr, "\r%s%*s", line, std::max(0, shown_length_ - length), "");
    shown_length_ = length;
    std::fflush(stderr);
    shown_ = true;
  }
  void finish() const {
    if (shown_) std::fprintf(stderr, "\n");
  }
  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_{};
  bool shown_ = false;
  int shown_length_ = 0;
};

}  // namespace


// The CPU time of each stage, and the engine's own share: everything but decoding the
// inputs and encoding the output, the floor any recorder pays.
void print_stage_stats(const std::vector<std::pair<std::string, double>>& stage_cpu_ms) {
  double total = 0, floor = 0;
  for (const auto& [name, ms] : stage_cpu_ms) {
    total += ms;
    if (name == "demux+decode" || name == "encode+mux") floor += ms;
  }
  std::fprintf(stderr, "%-14s %10s %7s\n", "stage", "CPU s", "share");
  for (const auto& [name, ms] : stage_cpu_ms)
    std::fprintf(stderr, "%-14s %10.3f %6.1f%%\n", name.c_str(), ms / 1000, total > 0 ? 100 * ms / total : 0);
  std::fprintf(stderr, "%-14s %10.3f\n", "total", total / 1000);
  std::fprintf(stderr, "engine's own share (all but demux+decode and encode+mux): %.1f%%\n",
               total > 0 ? 100 * (total - floor) / total : 0);
}

CommandRunner add_render_command(CLI::App& app) {
  struct Options {
    std::filesystem::path manifest_path, out_dir;
    std::optional<uint64_t> max_chunk_bytes;
    muxer::EncoderSettings encoder;
    std::optional<int> video_quality, video_bitrate;
    bool quiet = false, force = false, verbose = false, stats = false, decode_every_picture = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* render = app.add_subcommand("render", "Render a call from its manifest and captured media");
  render->add_option("manifest", o->manifest_path, "The call manifest (JSON)")->required();
  render->add_option("--out", o->out_dir, "Output directory for chunks and metadata")->required();
  render->add_option("--max-chunk-bytes", o->max_chunk_bytes, "Largest chunk size in bytes (overrides the manifest)")
      ->check(CLI::Range(uint64_t{65536}, uint64_t{1} << 62));
  render->add_option("--video-quality", o->video_quality,
                     "H.264 picture quality on x264's CRF scale, 0-51, lower is better (default " +
                         std::to_string(muxer::EncoderSettings{}.video_quality) + "; 0: lossless)")
      ->check(CLI::Range(0, 51));
  render->add_option("--video-bitrate", o->video_bitrate,
                     "H.264 average bit rate in bit/s instead of a constant quality; with --video-quality, "
                     "the ceiling of that quality")
      ->check(CLI::Range(100'000, 20'000'000));
  render->add_option("--audio-bitrate", o->encoder.audio_bitrate_bps, "AAC bit rate in bit/s")
      ->check(CLI::Range(8'000, 160'000));
  render->add_option("--video-lookahead", o->encoder.video_lookahead_frames,
                     "H.264 rate-control lookahead in pictures (0: zerolatency)")
      ->check(CLI::Range(0, 16))
      ->capture_default_str();
  render->add_option("--keyframe-interval", o->encoder.keyframe_interval_s, "Longest time between keyframes, in s")
      ->check(CLI::Range(1, 60))
      ->capture_default_str();
  render->add_option("--video-bframes", o->encoder.video_bframes, "H.264 B-frames between reference pictures")
      ->check(CLI::Range(0, 3))
      ->capture_default_str();
  render->add_option("--video-reuse-weighting", o->encoder.video_reuse_weighting,
                     "Code the blocks later pictures reuse (a still background) better: on or off")
      ->capture_default_str();
  render->add_flag("--quiet,-q", o->quiet, "No progress on stderr");
  render->add_flag("--force", o->force, "Replace a recording already in the output directory");
  render->add_flag("--verbose,-v", o->verbose, "Show FFmpeg's own warnings (--log-level warning)");
  render->add_flag("--stats", o->stats, "Print the CPU time of each stage when done");
  render->add_flag("--decode-every-picture", o->decode_every_picture,
                   "Decode every camera picture, also those never shown that nothing refers to (same output, "
                   "more CPU; for comparing)");

  return [render, o]() -> int {
    if (!render->parsed()) return -1;
    // callrec reports problems itself, one line each, naming the file; FFmpeg's own log
    // lines only on request (--log-level, --verbose).
    const std::optional<LogLevel> libav_level =
        o->verbose ? std::max(LogLevel::kWarning, libav_log_level().value_or(LogLevel::kWarning)) : libav_log_level();
    const LogSink log = stderr_log_sink(libav_level);
    if (o->video_quality) o->encoder.video_quality = *o->video_quality;
    if (o->video_bitrate) {
      o->encoder.video_bitrate_bps = *o->video_bitrate;
      o->encoder.video_rate_control =
          o->video_quality ? muxer::VideoRateControl::kCappedQuality : muxer::VideoRateControl::kAverageBitrate;
    }
    ProgressLine progress;
    try {
      const engine::Manifest manifest = engine::load_manifest(o->manifest_path);
      prepare_out_dir(o->out_dir, o->force);
      engine::RenderOptions options{.out_dir = o->out_dir, .max_chunk_bytes = o->max_chunk_bytes,
                                    .encoder = o->encoder, .on_progress = {}, .measure_stages = o->stats,
                                    .skip_unshown_pictures = !o->decode_every_picture, .log = log};
      if (!o->quiet) options.on_progress = [&progress](const auto& p) { progress(p); };
      const auto result = engine::render_call(manifest, options);
      if (!o->quiet) progress.finish();
      for (const std::string& p : result.problems) std::cerr << "callrec: warning: " << p << "\n";
      const auto& chunks = result.notification["data"]["recordingStorageInfo"]["recordingChunks"];
      if (!o->quiet) {
        const double seconds = result.notification["data"]["recordingDurationMs"].get<double>() / 1000;
        std::fprintf(stderr, "recorded %.1f s in %zu chunk(s) in %.1f s (%.1fx real time)\n", seconds, chunks.size(),
                     progress.elapsed_s(), seconds / std::max(1e-9, progress.elapsed_s()));
      }
      if (o->stats) {
        print_stage_stats(result.stage_cpu_ms);
        std::fprintf(stderr, "camera pictures left undecoded (never shown, nothing refers to them): %lld\n",
                     static_cast<long long>(result.pictures_not_decoded));
      }
      for (const auto& c : chunks)
        std::cout << (o->out_dir / (c["documentId"].get<std::string>() + ".mp4")).string() << "\n";
    } catch (const std::exception& e) {
      if (!o->quiet) progress.finish();
      std::cerr << "callrec: error: " << e.what() << "\n";
      return 1;
    }
    return 0;
  };
}

}  // namespace callrec::cli
