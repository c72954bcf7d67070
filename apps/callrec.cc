// callrec: the command line.
//
//   callrec render MANIFEST.json --out DIR [--max-chunk-bytes N] [--quiet]
//
// Exit status: 0 done, 1 the recording failed (the message names the cause), 2 usage.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "callrec/core/error.h"
#include "callrec/engine/manifest.h"
#include "callrec/engine/offline_renderer.h"

extern "C" {
#include <libavutil/log.h>
}

namespace {

using Clock = std::chrono::steady_clock;

// Refuses to mix a new recording into a directory that holds one, unless forced.
void prepare_out_dir(const std::filesystem::path& dir, bool force) {
  std::error_code ec;
  if (!std::filesystem::exists(dir / "recording.json", ec)) return;
  if (!force)
    throw callrec::Error(dir.string() + ": already holds a recording (recording.json); choose another --out or pass --force");
  // Remove only what a recording writes: chunk media, chunk metadata, the notification.
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    const auto ext = f.path().extension();
    if (f.is_regular_file() && (ext == ".mp4" || ext == ".json" || ext == ".part")) std::filesystem::remove(f.path(), ec);
  }
}

class ProgressLine {
 public:
  void operator()(const callrec::engine::RenderProgress& p) {
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    const double wall_s = std::chrono::duration<double>(now - start_).count();
    const double speed = wall_s > 0 ? p.output_us / 1e6 / wall_s : 0;
    if (p.call_end_us && *p.call_end_us > 0) {
      const double pct = std::min(100.0, 100.0 * p.call_us / *p.call_end_us);
      std::fprintf(stderr, "\rrendering: %5.1f%% of the call, %.1f s recorded, %.1fx real time ", pct, p.output_us / 1e6, speed);
    } else {
      std::fprintf(stderr, "\rrendering: %.1f s recorded, %.1fx real time ", p.output_us / 1e6, speed);
    }
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
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"callrec: renders the recording of a video call"};
  app.require_subcommand(1);

  CLI::App* render = app.add_subcommand("render", "Render a call from its manifest and captured media");
  std::filesystem::path manifest_path, out_dir;
  std::optional<uint64_t> max_chunk_bytes;
  callrec::muxer::EncoderSettings encoder;
  bool quiet = false, force = false, verbose = false;
  render->add_option("manifest", manifest_path, "The call manifest (JSON)")->required();
  render->add_option("--out", out_dir, "Output directory for chunks and metadata")->required();
  render->add_option("--max-chunk-bytes", max_chunk_bytes, "Largest chunk size in bytes (overrides the manifest)")
      ->check(CLI::Range(uint64_t{65536}, uint64_t{1} << 62));
  render->add_option("--video-bitrate", encoder.video_bitrate_bps, "H.264 bit rate in bit/s")
      ->check(CLI::Range(100'000, 20'000'000));
  render->add_option("--audio-bitrate", encoder.audio_bitrate_bps, "AAC bit rate in bit/s")
      ->check(CLI::Range(8'000, 160'000));
  render->add_flag("--quiet,-q", quiet, "No progress on stderr");
  render->add_flag("--force", force, "Replace a recording already in the output directory");
  render->add_flag("--verbose,-v", verbose, "Also show FFmpeg's own log messages");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // callrec reports problems itself, one line each, naming the file; FFmpeg's own log
  // lines only on request.
  av_log_set_level(verbose ? AV_LOG_WARNING : AV_LOG_QUIET);

  ProgressLine progress;
  try {
    const callrec::engine::Manifest manifest = callrec::engine::load_manifest(manifest_path);
    prepare_out_dir(out_dir, force);
    callrec::engine::RenderOptions options{.out_dir = out_dir, .max_chunk_bytes = max_chunk_bytes,
                                           .encoder = encoder, .on_progress = {}};
    if (!quiet) options.on_progress = [&progress](const auto& p) { progress(p); };
    const auto result = callrec::engine::render_call(manifest, options);
    if (!quiet) progress.finish();
    for (const std::string& p : result.problems) std::cerr << "callrec: warning: " << p << "\n";
    const auto& chunks = result.notification["data"]["recordingStorageInfo"]["recordingChunks"];
    if (!quiet) {
      const double seconds = result.notification["data"]["recordingDurationMs"].get<double>() / 1000;
      std::fprintf(stderr, "recorded %.1f s in %zu chunk(s) in %.1f s (%.1fx real time)\n", seconds, chunks.size(),
                   progress.elapsed_s(), seconds / std::max(1e-9, progress.elapsed_s()));
    }
    for (const auto& c : chunks)
      std::cout << (out_dir / (c["documentId"].get<std::string>() + ".mp4")).string() << "\n";
  } catch (const std::exception& e) {
    if (!quiet) progress.finish();
    std::cerr << "callrec: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
