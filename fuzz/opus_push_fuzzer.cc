// libFuzzer: Opus packets with fuzzed contents and timestamps into
// AudioMixer::push_opus (the embedding API's audio path), interleaved with mixing.
//
// Input: records of [flags u8][delta_ms i16 BE][length u16 BE][length bytes of packet].
// flags bit 0: mix a frame after the push; bit 1: flush the source.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "callrec/core/error.h"
#include "callrec/mixer/audio_mixer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace callrec;
  mixer::AudioMixer mixer;
  const mixer::SourceId source = mixer.add_source("fuzz");
  float out[mixer::kFrameSamples];
  const std::span<float, mixer::kFrameSamples> frame(out, mixer::kFrameSamples);
  int64_t ts_ms = 0;
  size_t at = 0;
  try {
    while (at + 5 <= size) {
      const uint8_t flags = data[at];
      const auto delta_ms = static_cast<int16_t>((data[at + 1] << 8) | data[at + 2]);
      size_t length = static_cast<size_t>((data[at + 3] << 8) | data[at + 4]);
      at += 5;
      length = std::min(length, size - at);
      ts_ms += delta_ms;
      mixer.push_opus(source, std::span<const uint8_t>(data + at, length), MediaTime::from_ms(ts_ms));
      at += length;
      if (flags & 2) mixer.flush(source);
      if (flags & 1) mixer.mix(frame);
      // Mix what was pushed (a live session's output clock keeps running).
      while (mixer.buffered_until(source) > mixer.next_sample() + 8 * mixer::kFrameSamples) mixer.mix(frame);
    }
    mixer.mix(frame);
    for (const float s : out)
      if (!std::isfinite(s) || s < -1.0f || s > 1.0f) __builtin_trap();  // the limiter's contract
  } catch (const Error&) {
  }
  return 0;
}
