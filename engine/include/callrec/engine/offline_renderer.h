// The offline driver: renders a call from captured per-participant files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callrec/core/log.h"
#include "callrec/engine/manifest.h"
#include "callrec/muxer/recording_writer.h"

namespace callrec::engine {

struct RenderProgress {
  int64_t call_us;                          // how far into the call the render is
  std::optional<int64_t> call_end_us;       // where it will end, when known or estimated
  int64_t output_us;                        // media written so far
  // call_end_us is an estimate: no stop in the timeline and an input whose container
  // states no duration (a live WebM capture, as browsers' MediaRecorder writes), whose
  // end is extrapolated from how far into the file reading has come.
  bool call_end_estimated = false;
};

struct RenderOptions {
  std::filesystem::path out_dir;
  std::optional<uint64_t> max_chunk_bytes;  // overrides the manifest's
  muxer::EncoderSettings encoder;
  // Called on the render thread about every 1/8 s of output written.
  std::function<void(const RenderProgress&)> on_progress;
  // Measure the CPU time of each stage (RenderResult::stage_cpu_ms).
  bool measure_stages = false;
  // Leave undecoded the VP8 pictures no output instant shows and nothing refers to (a
  // camera's temporal layers). The output is the same either way; off: for comparing.
  bool skip_unshown_pictures = true;
  // Where libav's log lines (and callrec's own diagnostics) of this render go: a
  // callback and a level (callrec/core/log.h). Without a callback they are dropped;
  // nothing is written to stderr.
  LogSink log;
};

struct RenderResult {
  nlohmann::json notification;        // recording.json as written
  std::vector<std::string> problems;  // media damage survived, one line each
  // With measure_stages: process CPU milliseconds per stage, in stage order
  // (demux+decode, mix, composite, encode+mux, engine), as {name, ms} pairs.
  std::vector<std::pair<std::string, double>> stage_cpu_ms;
  // Camera pictures left undecoded (RenderOptions::skip_unshown_pictures).
  int64_t pictures_not_decoded = 0;
};

// Opens every media file first (so a bad input fails before any output exists), then
// renders the call into options.out_dir. Throws callrec::Error on a bad input or a
// storage failure; chunks already finished stay in place, and recording.json is only
// written when the recording is complete.
RenderResult render_call(const Manifest& manifest, const RenderOptions& options);

}  // namespace callrec::engine
