// End to end evidence for the mixer: generated calls rendered by the callrec binary, the
// output AAC decoded back (the MP4 edit list honoured, as players do) and measured.
//
// Placement is measured to a fraction of a millisecond with the phase of a tone: the
// generator writes sin(2 pi f t) with t the time in the *file*, so in the output the
// tone's phase tells where file time 0 landed on the call timeline (modulo one period);
// a coarse envelope onset picks the right period.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <fstream>
#include <iostream>
#include <numbers>

#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace mg = mediagen;

constexpr int kRate = 16000;
constexpr double kMarkerHz = 100;  // period 10 ms = 160 samples

int64_t ms_to_samples(double ms) { return std::llround(ms * kRate / 1000); }

struct Party {
  std::string id;
  std::string file;
  int64_t offset_ms = 0;
};

// Writes a manifest for `parties` into `dir`, renders it, and decodes the one chunk.
DecodedChunk render_call(const std::filesystem::path& dir, const std::string& name, const std::vector<Party>& parties) {
  nlohmann::json manifest{{"callId", "call-" + name}, {"recordingStartTime", "2026-11-27T10:00:00Z"}};
  for (const Party& p : parties)
    manifest["participants"].push_back(
        {{"participantId", p.id}, {"media", {{{"file", p.file}, {"offsetMs", p.offset_ms}}}}});
  const auto manifest_path = dir / (name + ".json");
  std::ofstream(manifest_path) << manifest.dump(2);
  const auto out = dir / ("out-" + name);
  const CommandResult r =
      run_command({CALLREC_BINARY, "render", manifest_path.string(), "--out", out.string(), "--quiet"});
  if (r.exit_code != 0) throw std::runtime_error("callrec render " + name + " failed: " + r.err);
  const nlohmann::json rec = read_json(out / "recording.json");
  const auto& chunks = rec["data"]["recordingStorageInfo"]["recordingChunks"];
  if (chunks.size() != 1) throw std::runtime_error(name + ": expected one chunk");
  return decode_chunk(out / (chunks[0]["documentId"].get<std::string>() + ".mp4"));
}

// Call-time sample (fractional) where the envelope of `audio` in [from, to) first reaches
// half the power it has at the end of the window: the onset of a tone, to a few ms. The
// power is averaged over one period of `hz` centred on each sample, so a sinusoid's
// half-power point falls exactly on its onset.
double coarse_onset(std::span<const float> audio, double hz, int64_t from, int64_t to) {
  const int w = static_cast<int>(std::lround(kRate / hz));
  auto power = [&](int64_t centre) {
    double acc = 0;
    for (int64_t n = centre - w / 2; n < centre - w / 2 + w; ++n) acc += double{audio[n]} * audio[n];
    return acc / w;
  };
  const double steady = power(to - w);
  for (int64_t n = from; n < to; ++n)
    if (power(n) >= steady / 2) return static_cast<double>(n);
  return -1;
}

// Where file time 0 of a tone sin(2 pi hz t_file) landed, in call samples, modulo one
// period: fitted over [from, to), which should hold whole periods of the tone.
double phase_origin(std::span<const float> audio, double hz, int64_t from, int64_t to) {
  const double w = 2 * std::numbers::pi * hz / kRate;
  std::complex<double> c{};
  for (int64_t n = from; n < to; ++n) c += double{audio[n]} * std::polar(1.0, -w * static_cast<double>(n));
  // x[n] = A sin(w (n - n0)) = A cos(w n - (w n0 + pi/2))  ->  arg(c) = -(w n0 + pi/2).
  double n0 = (-std::arg(c) - std::numbers::pi / 2) / w;
  const double period = kRate / hz;
  n0 = std::fmod(n0, period);
  return n0 < 0 ? n0 + period : n0;
}

// Precise placement of a tone segment that plays from `nominal_ms` (call time) with
// file time 0 at `file_origin_ms`: the phase origin, moved by whole periods to agree with
// the coarse onset. Returns the measured call time of file time 0, in ms.
double measured_origin_ms(std::span<const float> audio, double hz, double nominal_onset_ms, double file_origin_ms) {
  const int64_t nominal = ms_to_samples(nominal_onset_ms);
  const double onset = coarse_onset(audio, hz, nominal - ms_to_samples(40), nominal + ms_to_samples(60));
  // Only picks the period (10 ms) for the phase; the assertions are the callers'.
  EXPECT_NEAR(onset, static_cast<double>(nominal), ms_to_samples(10)) << "coarse onset of the tone at "
                                                                      << nominal_onset_ms << " ms";
  const double period = kRate / hz;
  // Fit over 500 ms of steady tone, starting 50 ms after the onset.
  const double phase = phase_origin(audio, hz, nominal + ms_to_samples(50), nominal + ms_to_samples(550));
  // The candidate origin (phase + k periods) whose onset (origin + segment start) is
  // nearest the coarse onset.
  const double segment_start = static_cast<double>(nominal) - ms_to_samples(file_origin_ms);
  const double k = std::round((onset - segment_start - phase) / period);
  return (phase + k * period) * 1000.0 / kRate;
}

class MixerEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_ERROR);
    dir_ = new std::filesystem::path(fresh_dir("mixer-e2e"));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::filesystem::path* dir_;
};

std::filesystem::path* MixerEndToEnd::dir_ = nullptr;

TEST_F(MixerEndToEnd, LateJoinerIsHeardFromItsOffsetWithinOneMillisecond) {
  const auto& d = *dir_;
  // The tone starts with the file; two codec paths with different delays to undo:
  // PCM in WAV (none) and Opus in Ogg (pre-skip), both played against AAC priming.
  mg::write_media(d / "late.wav", {.duration_ms = 1500,
                                   .audio = mg::AudioSpec{.sample_rate_hz = 48000,
                                                          .tones = {{0, 1500, kMarkerHz, 0.3}},
                                                          .encoder = "pcm_s16le"}});
  mg::write_media(d / "later.ogg", {.duration_ms = 1500,
                                    .audio = mg::AudioSpec{.sample_rate_hz = 48000,
                                                           .tones = {{0, 1500, kMarkerHz, 0.3}}}});
  const DecodedChunk c =
      render_call(d, "late", {{"8:acs:wav", "late.wav", 3217}, {"8:acs:opus", "later.ogg", 5533}});
  const std::span<const float> audio(c.audio);
  ASSERT_GT(audio.size(), static_cast<size_t>(ms_to_samples(7000)));

  EXPECT_LT(rms(audio.subspan(0, ms_to_samples(3100))), 1e-3) << "silence before the first joiner";
  const double wav_origin = measured_origin_ms(audio, kMarkerHz, 3217, 3217);
  EXPECT_NEAR(wav_origin, 3217.0, 1.0) << "WAV participant placed at " << wav_origin
                                       << " ms (first AAC packet pts " << c.info.first_audio_pts
                                       << "; +64 ms would mean the AAC priming / edit list is not honoured)";
  const double opus_origin = measured_origin_ms(audio, kMarkerHz, 5533, 5533);
  std::cout << "[ measured ] WAV joiner at " << wav_origin << " ms (want 3217), Ogg Opus joiner at " << opus_origin
            << " ms (want 5533); first AAC packet pts " << c.info.first_audio_pts << "\n";
  EXPECT_NEAR(opus_origin, 5533.0, 1.0) << "Ogg Opus participant placed at " << opus_origin << " ms";
}

TEST_F(MixerEndToEnd, EveryInputFormatIsMixedAtItsLevel) {
  const auto& d = *dir_;
  // Seven simultaneous talkers: peaks add up to at most 7 x 0.07 = 0.49, under the
  // limiter's threshold (0.5), so each tone must come out at the level it went in.
  constexpr double kAmp = 0.07;
  struct Input {
    const char* file;
    int rate_hz;
    int channels;
    const char* encoder;
    double hz;
  };
  const std::vector<Input> inputs{
      {"s16-8k-mono.wav", 8000, 1, "pcm_s16le", 300},       // int, packed, narrowband
      {"f32-16k-stereo.wav", 16000, 2, "pcm_f32le", 500},   // float, packed
      {"aac-44k-51.mp4", 44100, 6, "aac", 700},             // float, planar, 5.1
      {"opus-48k-stereo.ogg", 48000, 2, "libopus", 1100},   // float, packed
      {"opus-48k-mono.webm", 48000, 1, "libopus", 1300},    // float, packed, WebM
      {"alac-44k-stereo.m4a", 44100, 2, "alac", 1700},      // int, planar
      {"s32-32k-51.wav", 32000, 6, "pcm_s32le", 2300},      // 32-bit int, packed, 5.1
  };
  std::vector<Party> parties;
  for (const Input& in : inputs) {
    mg::write_media(d / in.file, {.duration_ms = 4000,
                                  .audio = mg::AudioSpec{.sample_rate_hz = in.rate_hz,
                                                         .channels = in.channels,
                                                         .tones = {{0, 4000, in.hz, kAmp}},
                                                         .encoder = in.encoder}});
    parties.push_back({std::string("8:acs:") + in.file, in.file, 0});
  }
  const DecodedChunk c = render_call(d, "formats", parties);
  ASSERT_GE(c.audio.size(), static_cast<size_t>(ms_to_samples(3500)));
  const auto steady = std::span<const float>(c.audio).subspan(ms_to_samples(1000), ms_to_samples(2000));
  for (const Input& in : inputs) {
    const double level = tone_amplitude(steady, in.hz);
    const double db = 20 * std::log10(level / kAmp);
    std::cout << "[ measured ] " << in.file << " " << in.hz << " Hz: " << db << " dB\n";
    EXPECT_NEAR(db, 0.0, 0.5) << in.file << ": " << in.hz << " Hz at " << level << " (" << db << " dB)";
  }
}

TEST_F(MixerEndToEnd, TimestampGapsKeepLaterAudioInPlace) {
  const auto& d = *dir_;
  // Opus in WebM with talk spurts (tones with holes) and dropped packets (timestamp
  // gaps, as with DTX or loss): 1.66 s of packets are missing in all.
  const std::vector<mg::TimeRangeMs> gaps{{400, 420},   {1000, 1100}, {1620, 1640}, {2500, 2900},
                                          {3300, 3340}, {4000, 4020}, {5000, 6000}, {7000, 7040},
                                          {8020, 8040}, {8500, 8560}};
  mg::write_media(d / "gappy.webm",
                  {.duration_ms = 10000,
                   .audio = mg::AudioSpec{.sample_rate_hz = 48000,
                                          .tones = {{0, 700, kMarkerHz, 0.3},
                                                    {900, 1500, 450, 0.3},
                                                    {2100, 2300, kMarkerHz, 0.3},
                                                    {3000, 4400, 450, 0.3},
                                                    {4800, 6200, 450, 0.3},
                                                    {6500, 8700, 450, 0.3},
                                                    {9000, 10000, kMarkerHz, 0.3}},
                                          .gaps = gaps}});
  constexpr int64_t kOffsetMs = 1234;
  const DecodedChunk c = render_call(d, "gaps", {{"8:acs:gappy", "gappy.webm", kOffsetMs}});
  const std::span<const float> audio(c.audio);
  ASSERT_GT(audio.size(), static_cast<size_t>(ms_to_samples(kOffsetMs + 9900)));

  // A dropped stretch is a hole on the timeline, not squeezed out: the 450 Hz tone that
  // plays on both sides of the 5.0-6.0 s gap is absent inside it.
  const auto hole = audio.subspan(ms_to_samples(kOffsetMs + 5050), ms_to_samples(900));
  const auto around = audio.subspan(ms_to_samples(kOffsetMs + 6100), ms_to_samples(90));
  EXPECT_GT(tone_amplitude(around, 450), 0.2);
  EXPECT_LT(rms(hole), 0.01) << "the 1 s packet gap is silence at its place";

  // The first talk spurt fixes where the file landed (see WebmOpusJoinerIsPlacedAtItsOffset
  // for the absolute placement); after ten gaps the last spurt must land within 1 ms
  // of the same place.
  const double early = measured_origin_ms(audio, kMarkerHz, kOffsetMs, kOffsetMs);
  const double late = measured_origin_ms(audio, kMarkerHz, kOffsetMs + 9000, kOffsetMs);
  std::cout << "[ measured ] gappy WebM Opus: file time 0 at " << early << " ms from the first spurt, " << late
            << " ms from the last (offset " << kOffsetMs << ")\n";
  EXPECT_NEAR(late, early, 1.0) << "after 10 gaps (1.66 s of packets missing) the audio moved";
  EXPECT_NEAR(early, static_cast<double>(kOffsetMs), 8.0) << "first spurt";
}

TEST_F(MixerEndToEnd, WebmOpusJoinerIsPlacedAtItsOffset) {
  const auto& d = *dir_;
  mg::write_media(d / "joiner.webm", {.duration_ms = 1500,
                                      .audio = mg::AudioSpec{.sample_rate_hz = 48000,
                                                             .tones = {{0, 1500, kMarkerHz, 0.3}}}});
  const DecodedChunk c = render_call(d, "webm-late", {{"8:acs:webm", "joiner.webm", 3217}});
  const double origin = measured_origin_ms(c.audio, kMarkerHz, 3217, 3217);
  std::cout << "[ measured ] WebM Opus joiner at " << origin << " ms (want 3217)\n";
  // WebM stores Opus with its first packet at -CodecDelay (-6.5 ms, written as -7 ms);
  // those pre-skip samples are never presented, so they must not count as the file's
  // start (they once placed the file ~7 ms late).
  EXPECT_NEAR(origin, 3217.0, 1.0);
}

TEST_F(MixerEndToEnd, NineFullScaleTalkersDoNotClipAndOneTalkerKeepsItsLevel) {
  const auto& d = *dir_;
  // Nine participants, each a 0 dBFS sine (different pitches), for 3 s; then one
  // normal talker (-12 dBFS) alone from 4 s.
  std::vector<Party> parties;
  for (int i = 0; i < 9; ++i) {
    const std::string file = "loud" + std::to_string(i) + ".wav";
    mg::write_media(d / file, {.duration_ms = 3000,
                               .audio = mg::AudioSpec{.sample_rate_hz = 16000,
                                                      .tones = {{0, 3000, 250.0 + 110 * i, 1.0}},
                                                      .encoder = "pcm_s16le"}});
    parties.push_back({"8:acs:loud" + std::to_string(i), file, 0});
  }
  constexpr double kTalker = 0.25;
  mg::write_media(d / "talker.wav", {.duration_ms = 3000,
                                     .audio = mg::AudioSpec{.sample_rate_hz = 16000,
                                                            .tones = {{0, 3000, 440, kTalker}},
                                                            .encoder = "pcm_s16le"}});
  parties.push_back({"8:acs:talker", "talker.wav", 4000});
  const DecodedChunk c = render_call(d, "loud", parties);
  const std::span<const float> audio(c.audio);
  ASSERT_GT(audio.size(), static_cast<size_t>(ms_to_samples(6900)));

  float peak = 0;
  int64_t beyond_full_scale = 0;
  for (float x : audio.subspan(0, ms_to_samples(3500))) {
    peak = std::max(peak, std::abs(x));
    beyond_full_scale += std::abs(x) > 1.0f;
  }
  EXPECT_GT(peak, 0.7f) << "the loud mix is limited, not muted";
  for (int i = 0; i < 9; ++i)
    EXPECT_GT(tone_amplitude(audio.subspan(ms_to_samples(1000), ms_to_samples(1000)), 250.0 + 110 * i), 0.03)
        << "talker " << i << " still audible in the limited mix";

  const double level = tone_amplitude(audio.subspan(ms_to_samples(5000), ms_to_samples(1500)), 440);
  EXPECT_NEAR(20 * std::log10(level / kTalker), 0.0, 0.5) << "single talker at " << level;
  std::cout << "[ measured ] nine-talker peak " << peak << " (" << beyond_full_scale
            << " samples beyond full scale), single talker " << level << " (of " << kTalker << ")\n";

  // The limiter's ceiling is -2.5 dBFS before encoding; 32 kbps AAC adds quantisation
  // error on top. Full scale (1.0) is the bound that matters: a decoded sample beyond it
  // is clipped when a player converts to 16-bit.
  EXPECT_LE(peak, 1.0f) << "peak of the nine-talker mix";
}

}  // namespace
}  // namespace callrec::testing
