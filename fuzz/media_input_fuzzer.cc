// libFuzzer: a captured media file held in memory, through MediaInput (the demux and
// decode code of the offline renderer, reading via its own AVIOContext) and on into the
// AudioMixer, as the renderer does.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "callrec/core/error.h"
#include "callrec/engine/ffmpeg_limits.h"
#include "callrec/mixer/audio_mixer.h"
#include "media_input.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace {
// Bounds one input's work so the fuzzer keeps its speed (a real file has no such cap).
constexpr int kMaxSteps = 3000;
constexpr int kMaxMixesPerPush = 2000;  // 128 s of call
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  av_log_set_level(AV_LOG_QUIET);
  callrec::engine::limit_ffmpeg_allocations();  // as the callrec binary does
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using callrec::engine::MediaInput;
  using callrec::engine::MediaLimits;
  try {
    MediaInput input = MediaInput::from_memory(std::span<const uint8_t>(data, size), "fuzz", 0);
    callrec::mixer::AudioMixer mixer;
    const callrec::mixer::SourceId source = mixer.add_source("fuzz");
    float mixed[callrec::mixer::kFrameSamples];
    uint64_t checksum = 0;
    const auto on_audio = [&](const AVFrame& f, callrec::MediaTime t) {
      mixer.push(source, f, t);
      // Keep the mixer's position near the input so buffers stay small; after a
      // timestamp jump (hours ahead) only part of the way, for the fuzzer's speed: what
      // lies beyond is kept aside by the mixer, not stored as silence.
      for (int k = 0; k < kMaxMixesPerPush &&
                      mixer.buffered_until(source) - mixer.next_sample() > 4 * callrec::mixer::kFrameSamples;
           ++k)
        mixer.mix(std::span<float, callrec::mixer::kFrameSamples>(mixed, callrec::mixer::kFrameSamples));
    };
    const auto on_video = [&](const AVFrame& f, callrec::MediaTime) {
      // The renderer hands these to the compositor: every delivered picture is within
      // the canvas box and its planes are readable (ASan checks the reads).
      if (f.width <= 0 || f.height <= 0 || f.width > MediaLimits::kMaxDeliveredWidth ||
          f.height > MediaLimits::kMaxDeliveredHeight)
        __builtin_trap();
      checksum += f.data[0][0] + f.data[0][(f.height - 1) * f.linesize[0] + f.width - 1];
    };
    // The renderer's picture filter says most pictures of a camera will never be shown;
    // here every other one by its time, so that holding a VP8 picture for the next one's
    // time and leaving it undecoded run on hostile input too. Pictures handed on and
    // pictures told as skipped both go forward in time (the compositor needs them in
    // order).
    std::optional<int64_t> last_video_us;
    input.set_picture_filter(MediaInput::PictureFilter{
        .may_show =
            [](int64_t before_us, int64_t pts_us, int64_t after_us) {
              if (!(before_us < pts_us && pts_us < after_us)) __builtin_trap();
              return (pts_us / 1000) % 2 == 0;
            },
        .skipped =
            [&](callrec::MediaTime t) {
              if (last_video_us && t.us() <= *last_video_us) __builtin_trap();
              last_video_us = t.us();
            }});
    const auto on_placed_video = [&](const AVFrame& f, callrec::MediaTime t) {
      if (last_video_us && t.us() <= *last_video_us) __builtin_trap();
      last_video_us = t.us();
      on_video(f, t);
    };
    for (int i = 0; i < kMaxSteps && input.step(on_audio, on_placed_video); ++i) {
    }
    if (input.end_us() < input.offset_us()) __builtin_trap();
    (void)checksum;
  } catch (const callrec::Error&) {
  }
  return 0;
}
