// The mixed audio's level over the recording: RMS and peak per bin of time, from the
// chunks' decoded AAC (what a listener hears, not what the mixer meant to write).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace callrec::report {

class AudioLevels {
 public:
  // Bins of `bin_ms` covering [0, duration_ms) of the recording.
  AudioLevels(int64_t duration_ms, int64_t bin_ms);

  // Decodes the audio of `mp4`, whose media starts at recording time `start_ms`, into
  // the bins. Throws callrec::Error naming the file when it has no readable audio.
  void add_chunk(const std::filesystem::path& mp4, int64_t start_ms);

  int64_t bin_ms() const { return bin_ms_; }
  size_t bins() const { return sum_squares_.size(); }
  // Level of bin i in dBFS (-inf for digital silence or no audio); has_audio: some
  // sample fell in it.
  double rms_db(size_t i) const;
  double peak_db(size_t i) const;
  bool has_audio(size_t i) const { return counts_[i] > 0; }

  int64_t samples() const { return samples_; }
  // Samples at or beyond full scale (|x| >= 0.999): the mix clipped there.
  int64_t clipped_samples() const { return clipped_; }
  int64_t damaged_packets() const { return damaged_; }

 private:
  int64_t bin_ms_;
  std::vector<double> sum_squares_;
  std::vector<float> peak_;
  std::vector<int64_t> counts_;
  int64_t samples_ = 0;
  int64_t clipped_ = 0;
  int64_t damaged_ = 0;
};

}  // namespace callrec::report
