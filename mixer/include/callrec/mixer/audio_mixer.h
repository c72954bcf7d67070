// AudioMixer: N participants' audio in, one 16 kHz mono float stream out.
//
// Inputs are placed on the *call timeline*, counted in output samples at 16 kHz
// (sample n covers call time [n/16000 s, (n+1)/16000 s)). The mixer produces the call
// timeline frame by frame, in order, kFrameSamples at a time; it never skips or repeats
// a sample, so the output clock is an integer counter and cannot drift.
//
// Threading: one AudioMixer is owned and used by one thread (the engine's audio
// thread); it is not internally synchronised. That thread should flush denormal
// floats to zero (callrec/core/denormals.h; the engine's render and live threads do):
// the resampler's filters fed with decaying audio otherwise cost twenty times their
// normal time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "callrec/core/media_time.h"

extern "C" struct AVFrame;

namespace callrec::mixer {

inline constexpr int kOutputRateHz = 16000;
inline constexpr Rational kOutputTimeBase{1, kOutputRateHz};
inline constexpr int kFrameSamples = 1024;  // one AAC-LC frame

struct MixerConfig {
  // Mix only the N loudest sources of each frame (as conferencing mixers do).
  // std::nullopt: everyone is mixed.
  std::optional<int> max_talkers;
  // Live path: absorb a source clock running up to about +-1000 ppm against the call
  // clock by adjusting that source's resampling ratio gradually (at most 0.2 %, which
  // is inaudible), instead of cutting or padding audio when its timestamps and its
  // sample count disagree. Frame timestamps may then jitter by up to
  // kDriftToleranceMs before a frame is treated as a gap or an overlap.
  // Off (offline files): placement is exact, by sample count, within 2 ms.
  bool drift_correction = false;
};

// With drift_correction, how far a frame may stray from where its samples land before
// it is treated as a discontinuity rather than clock drift or jitter.
inline constexpr int kDriftToleranceMs = 40;

// What happened to one source's audio so far.
struct SourceStats {
  int64_t samples_received = 0;   // after conversion to 16 kHz
  int64_t samples_mixed = 0;      // of those, placed on the output (not dropped as late)
  int64_t gaps_filled = 0;        // discontinuities filled with silence/concealment
  int64_t samples_concealed = 0;  // output samples synthesised by concealment or silence fill
  int64_t samples_dropped_late = 0;  // arrived for a time already mixed
  int64_t drift_corrected_samples = 0;
  // Opus path (push_opus) only:
  int64_t packets_lost = 0;     // inferred from timestamp gaps, concealed by PLC/FEC
  int64_t packets_corrupt = 0;  // rejected by libopus, or empty; concealed
  int64_t packets_discarded = 0;  // duplicates or reordered packets behind the output
  // Float samples that were NaN or infinite (silenced) or beyond +6 dBFS (clamped).
  int64_t samples_invalid = 0;
};

using SourceId = int;

class AudioMixer {
 public:
  explicit AudioMixer(MixerConfig config = {});
  ~AudioMixer();
  AudioMixer(const AudioMixer&) = delete;
  AudioMixer& operator=(const AudioMixer&) = delete;

  // `name` is used in error messages and stats (a participantId).
  SourceId add_source(std::string name);
  // The source stops contributing; buffered audio is discarded.
  void remove_source(SourceId id);

  // Decoded audio in any sample rate (8-48 kHz; up to 384 kHz works), sample format and
  // channel layout of 1 to 64 channels: a standard layout is downmixed as libswresample
  // does, any other (a count with no standard layout, such as 9 or 64, or a layout
  // without a known order) with every channel at the same weight.
  // Float samples that are NaN, infinite or beyond +6 dBFS are silenced or clamped (and
  // counted): they would otherwise poison the resampler and the limiter for everyone.
  // `start` is the call time of the frame's first sample. Frames of one source are
  // pushed in time order. A frame that starts within 2 ms of where the previous one
  // ended is treated as contiguous (container timestamps are often rounded to 1 ms);
  // a larger gap is filled with silence; an overlap is trimmed. Samples for call time
  // already mixed are dropped and counted. Throws callrec::Error naming the source
  // when the frame cannot be converted (the source then goes on as before it).
  void push(SourceId id, const AVFrame& frame, MediaTime start);

  // Opus packets straight through libopus (the embedding API), decoded at 48 kHz mono.
  // `start` is the call time of the packet's first sample; packets of one source come
  // in time order. A packet starting later than the previous one ended means packets
  // were lost: up to 200 ms are concealed (libopus PLC, with the last lost frame
  // recovered from this packet's in-band FEC when it carries it); longer gaps become
  // silence. Corrupt, garbage or zero-length packets are concealed for the last good
  // packet's duration and counted. A source should use either push() or push_opus().
  void push_opus(SourceId id, std::span<const uint8_t> packet, MediaTime start);

  // The source's input has ended, for now or for good: the last ~2 ms that the
  // resampler's filter holds back are placed on the timeline. A later push continues
  // (or starts a new stretch after a gap) as usual. Optional; use at end of stream.
  void flush(SourceId id);

  // Call-timeline sample index up to which this source has buffered audio (its end),
  // or the mix position if it has nothing buffered.
  int64_t buffered_until(SourceId id) const;

  // Call-timeline index of the first sample the next mix() produces (starts at 0).
  int64_t next_sample() const;

  // Mixes call-timeline samples [next_sample(), next_sample() + kFrameSamples) into
  // `out` and advances. Sources with no audio there contribute silence. The sum goes
  // through a soft limiter, so every output sample is within [-1, 1].
  void mix(std::span<float, kFrameSamples> out);

  SourceStats stats(SourceId id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec::mixer
