// The Opus path, modelled on libopus' tests/test_opus_decode.c: concealment on a fresh
// decoder, zero-length and garbage packets, plus loss recovery with PLC and in-band FEC.
#include <gtest/gtest.h>
#include <opus/opus.h>

#include <array>
#include <cmath>
#include <numbers>
#include <random>
#include <set>
#include <vector>

#include "callrec/mixer/audio_mixer.h"
#include "opus_packet_decoder.h"
#include "test_signals.h"

namespace callrec::mixer {
namespace {

using testing::goertzel_amplitude;

struct EncoderDeleter {
  void operator()(OpusEncoder* e) const { opus_encoder_destroy(e); }
};

// 20 ms packets of a voiced-speech-like signal (440 Hz with harmonics, a 3 Hz syllable
// envelope): SILK's VAD sees activity, so the encoder adds in-band FEC (LBRR). A pure
// sine does not get LBRR data.
std::vector<std::vector<uint8_t>> encode_tone(int packets, double amplitude = 0.3) {
  int error = 0;
  std::unique_ptr<OpusEncoder, EncoderDeleter> enc(opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &error));
  EXPECT_EQ(error, OPUS_OK);
  opus_encoder_ctl(enc.get(), OPUS_SET_BITRATE(24000));
  opus_encoder_ctl(enc.get(), OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(enc.get(), OPUS_SET_PACKET_LOSS_PERC(20));
  opus_encoder_ctl(enc.get(), OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  opus_encoder_ctl(enc.get(), OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_WIDEBAND));
  std::vector<std::vector<uint8_t>> out;
  std::array<float, 960> pcm{};
  std::array<uint8_t, 1500> buf{};
  for (int p = 0; p < packets; ++p) {
    for (int i = 0; i < 960; ++i) {
      const double t = (p * 960 + i) / 48000.0;
      const double w = 2 * std::numbers::pi * 440 * t;
      pcm[static_cast<size_t>(i)] = static_cast<float>(amplitude * (0.6 + 0.4 * std::sin(2 * std::numbers::pi * 3 * t)) *
                                                       (std::sin(w) + 0.5 * std::sin(2 * w) + 0.25 * std::sin(3 * w)) / 1.75);
    }
    const int n = opus_encode_float(enc.get(), pcm.data(), 960, buf.data(), static_cast<opus_int32>(buf.size()));
    EXPECT_GT(n, 0);
    out.emplace_back(buf.begin(), buf.begin() + n);
  }
  return out;
}

MediaTime packet_time(int index, int64_t offset_ms = 0) { return MediaTime::from_ms(offset_ms + index * 20); }

std::vector<float> mix_all(AudioMixer& mixer, int64_t until) {
  std::vector<float> out;
  std::array<float, kFrameSamples> frame{};
  while (mixer.next_sample() < until) {
    mixer.mix(frame);
    out.insert(out.end(), frame.begin(), frame.end());
  }
  return out;
}

TEST(OpusPacketDecoderTest, ConcealmentOnAFreshDecoderIsSilenceOfTheRightLength) {
  OpusPacketDecoder decoder("fresh");
  const auto out = decoder.decode({}, 48000);
  EXPECT_TRUE(out.packet_corrupt);
  ASSERT_EQ(out.samples.size(), 960u);
  EXPECT_EQ(out.start_48k, 48000);
  for (float v : out.samples) ASSERT_EQ(v, 0.0f);
  // The next (lost-looking) gap on a fresh decoder is concealed with silence as well.
  const auto next = decoder.decode({}, 48000 + 960 + 1920);
  EXPECT_TRUE(next.gap_concealed);
  EXPECT_EQ(next.start_48k, 48000 + 960);
  EXPECT_EQ(next.samples.size(), 1920u + 960u);
}

TEST(OpusPacketDecoderTest, DetectsInBandFec) {
  const auto packets = encode_tone(20);
  int with_fec = 0;
  for (const auto& p : packets) with_fec += OpusPacketDecoder::has_fec(p) ? 1 : 0;
  EXPECT_GT(with_fec, 10) << "the encoder was asked for FEC on a voice signal";
  const uint8_t celt_only[] = {0xF8, 0xFF, 0xFE};  // config 31: CELT-only, never has FEC
  EXPECT_FALSE(OpusPacketDecoder::has_fec(celt_only));
  EXPECT_FALSE(OpusPacketDecoder::has_fec({}));
}

TEST(OpusMixerTest, DecodesPacketsAtTheirTimestamps) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("opus-ada");
  const auto packets = encode_tone(100);
  for (int i = 0; i < 100; ++i) mixer.push_opus(id, packets[static_cast<size_t>(i)], packet_time(i, 1000));
  mixer.flush(id);
  EXPECT_EQ(mixer.buffered_until(id), 16000 + 100 * 320);
  const auto out = mix_all(mixer, 3 * 16000);
  EXPECT_LT(goertzel_amplitude(std::span<const float>(out).subspan(0, 15000), 440), 1e-4);
  EXPECT_NEAR(goertzel_amplitude(std::span<const float>(out).subspan(20000, 16000), 440), 0.3 * 0.6 / 1.75, 0.04);
  const SourceStats st = mixer.stats(id);
  EXPECT_EQ(st.packets_lost, 0);
  EXPECT_EQ(st.gaps_filled, 0);
  EXPECT_EQ(st.samples_received, 32000);
}

double rms(std::span<const float> x) {
  double e = 0.0;
  for (float v : x) e += double{v} * v;
  return std::sqrt(e / static_cast<double>(x.size()));
}

TEST(OpusMixerTest, LostPacketsAreConcealedWithExactSampleCounts) {
  const auto packets = encode_tone(150);
  AudioMixer reference;
  const SourceId ref = reference.add_source("opus-ref");
  for (int i = 0; i < 150; ++i) reference.push_opus(ref, packets[static_cast<size_t>(i)], packet_time(i));
  reference.flush(ref);
  const auto expected = mix_all(reference, 150 * 320);

  AudioMixer mixer;
  const SourceId id = mixer.add_source("opus-bob");
  const std::set<int> lost = {40, 70, 71, 100, 101, 102};
  const std::set<int> recovered_by_fec = {40, 71, 102};  // the packet after each carries it
  for (int i = 0; i < 150; ++i) {
    if (!lost.contains(i)) mixer.push_opus(id, packets[static_cast<size_t>(i)], packet_time(i));
  }
  mixer.flush(id);
  EXPECT_EQ(mixer.buffered_until(id), 150 * 320) << "no sample lost or invented";
  const SourceStats st = mixer.stats(id);
  EXPECT_EQ(st.packets_lost, 6);
  EXPECT_EQ(st.gaps_filled, 3);
  EXPECT_EQ(st.samples_concealed, 6 * 320);
  EXPECT_EQ(st.samples_received, 150 * 320);
  const auto out = mix_all(mixer, 150 * 320);
  for (int i : lost) {
    const auto at = static_cast<size_t>(i * 320);
    const double got = rms(std::span<const float>(out).subspan(at, 320));
    const double want = rms(std::span<const float>(expected).subspan(at, 320));
    // Concealed, not a dropout to silence (PLC fades over consecutive losses; the FEC
    // frame that ends each burst is coded at low rate, so it is not near the original).
    EXPECT_GT(got, 0.2 * want) << "packet " << i << (recovered_by_fec.contains(i) ? " (FEC)" : " (PLC)");
  }
  // Away from the losses the decoder has resynchronised.
  const auto tail = static_cast<size_t>(130 * 320);
  EXPECT_NEAR(rms(std::span<const float>(out).subspan(tail, 3200)),
              rms(std::span<const float>(expected).subspan(tail, 3200)), 0.1 * rms(std::span<const float>(expected).subspan(tail, 3200)));
}

TEST(OpusMixerTest, ZeroLengthAndGarbagePacketsAreConcealedAndCounted) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("opus-cyd");
  auto packets = encode_tone(100);
  std::mt19937 rng(42);
  const std::vector<uint8_t> invalid = {0xFF, 0x00};  // code 3 with zero frames: always rejected
  int corrupt = 0;
  for (int i = 0; i < 100; ++i) {
    std::vector<uint8_t> p = packets[static_cast<size_t>(i)];
    if (i == 10) p.clear();
    if (i == 20 || i == 21) p = invalid;
    if (i >= 30 && i < 40) {
      // Random garbage of random length: libopus either decodes it or rejects it.
      std::uniform_int_distribution<int> len(1, 200);
      p.resize(static_cast<size_t>(len(rng)));
      for (auto& b : p) b = static_cast<uint8_t>(rng());
      // Keep a 20 ms frame size in the TOC so the sample count is predictable.
      p[0] = static_cast<uint8_t>((p[0] & 0x04) | (9 << 3));  // SILK WB 20 ms, code 0
    }
    if (i == 10 || i == 20 || i == 21) ++corrupt;
    mixer.push_opus(id, p, packet_time(i));
  }
  mixer.flush(id);
  const SourceStats st = mixer.stats(id);
  EXPECT_GE(st.packets_corrupt, corrupt);
  EXPECT_EQ(st.packets_lost, 0);
  EXPECT_EQ(mixer.buffered_until(id), 100 * 320) << "concealment keeps exact sample counts";
  const auto out = mix_all(mixer, 100 * 320);
  for (float v : out) ASSERT_LE(std::fabs(v), 1.0f);
  // After the garbage the stream recovers.
  EXPECT_NEAR(goertzel_amplitude(std::span<const float>(out).subspan(60 * 320, 12800), 440), 0.3 * 0.6 / 1.75, 0.04);
}

TEST(OpusMixerTest, DuplicatePacketsAreDiscarded) {
  AudioMixer mixer;
  const SourceId id = mixer.add_source("opus-dan");
  const auto packets = encode_tone(20);
  for (int i = 0; i < 20; ++i) {
    mixer.push_opus(id, packets[static_cast<size_t>(i)], packet_time(i));
    if (i == 5) mixer.push_opus(id, packets[4], packet_time(4));
  }
  mixer.flush(id);
  EXPECT_EQ(mixer.stats(id).packets_discarded, 1);
  EXPECT_EQ(mixer.buffered_until(id), 20 * 320);
}

}  // namespace
}  // namespace callrec::mixer
