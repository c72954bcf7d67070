// SoftLimiter: keeps the mixed sum inside [-1, 1] without touching normal speech.
//
// Why this shape: a fixed 1/N gain would make a lone talker N times quieter, and a
// per-sample waveshaper alone distorts heavily when nine people shout at once. So the
// limiter is a gain stage: levels up to kThreshold (-6 dBFS) pass bit-exact (unity gain);
// above it a tanh knee maps the subframe peak smoothly towards kCeiling (so loudness
// still grows, just less). The gain is computed per 64-sample subframe from its peak
// and linearly interpolated between subframe boundaries, attacking within the subframe
// that needs it (no lookahead, so the mix gets no extra latency) and releasing with a
// ~80 ms time constant, so gain changes never click. A final clamp guards against
// float rounding only; with the gain above it never engages by more than an ulp.
//
// Threading: one instance per AudioMixer, used from its thread only.
#pragma once

#include <array>
#include <span>

namespace callrec::mixer {

class SoftLimiter {
 public:
  static constexpr float kThreshold = 0.5f;   // -6 dBFS: below this, gain is exactly 1
  // Peaks approach, never exceed, this. -2.5 dBFS rather than just under full scale:
  // the mix is then AAC-encoded at 32 kbit/s, whose quantisation overshoots loud,
  // dense peaks by up to ~27 %; decoded samples must still stay inside full scale.
  static constexpr float kCeiling = 0.75f;
  static constexpr int kSubframeSamples = 64;

  // The static curve: output peak for an input peak `level` (>= 0).
  static float knee(float level);

  // Processes one block in place; its size must be a multiple of kSubframeSamples.
  void process(std::span<float> samples);

  float current_gain() const { return gain_; }

 private:
  float gain_ = 1.0f;  // gain at the end of the previous block
};

}  // namespace callrec::mixer
