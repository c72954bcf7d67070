// OpusPacketDecoder: Opus packets with call timestamps in, gapless 48 kHz mono float out.
//
// Losses are found from timestamps: when a packet starts later than the previous one
// ended, the missing stretch is synthesised by libopus' packet loss concealment, and
// its last frame is recovered from the in-band FEC (LBRR) data of the packet that
// arrived, when that packet carries it. Packets libopus rejects, and empty packets, are
// concealed for the duration of the last good packet. Sample counts stay exact: the
// output always continues where the previous output ended.
//
// Threading: owned by one source of one AudioMixer; not synchronised.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct OpusDecoder;

namespace callrec::mixer {

inline constexpr int kOpusRateHz = 48000;

class OpusPacketDecoder {
 public:
  // Longer gaps are not concealed (DTX, a muted or departed sender): they become silence.
  static constexpr int64_t kMaxConcealSamples = kOpusRateHz / 5;  // 200 ms

  explicit OpusPacketDecoder(std::string source_name);
  ~OpusPacketDecoder();
  OpusPacketDecoder(const OpusPacketDecoder&) = delete;
  OpusPacketDecoder& operator=(const OpusPacketDecoder&) = delete;

  struct Output {
    int64_t start_48k = 0;           // call-timeline index of samples[0] at 48 kHz
    std::span<const float> samples;  // valid until the next decode()
    int64_t concealed_samples = 0;   // of samples, synthesised (PLC/FEC), at 48 kHz
    bool gap_concealed = false;      // a timestamp gap was concealed
    int64_t packets_lost = 0;        // estimated from the gap and the packet duration
    bool packet_corrupt = false;     // this packet was rejected (or empty) and concealed
    bool packet_discarded = false;   // duplicate or reordered: started before the output end
  };
  Output decode(std::span<const uint8_t> packet, int64_t start_48k);

  // True when `packet` is SILK or hybrid and carries LBRR (FEC) data for its predecessor.
  static bool has_fec(std::span<const uint8_t> packet);

 private:
  // Appends `samples` of concealment (PLC, or FEC from `fec_packet` when non-empty).
  void conceal(int64_t samples, std::span<const uint8_t> fec_packet);
  int decode_into(const uint8_t* data, int length, int max_samples, bool fec);

  std::string source_name_;
  struct DecoderDeleter {
    void operator()(OpusDecoder* d) const;
  };
  std::unique_ptr<OpusDecoder, DecoderDeleter> decoder_;
  std::vector<float> pcm_;  // allocated once: longest concealment + longest packet
  size_t used_ = 0;
  std::optional<int64_t> next_48k_;
  int last_packet_samples_ = kOpusRateHz / 50;  // 20 ms until a packet says otherwise
};

}  // namespace callrec::mixer
