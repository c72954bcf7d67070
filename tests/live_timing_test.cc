// A live session's timing, in virtual time: pause and resume, a participant who leaves
// and rejoins with a new client, a sender that restarts, network jitter, loss and late
// media, each checked exactly (the same recording on any machine, at any load).
#include <gtest/gtest.h>

#include <algorithm>

#include "callrec/session.h"
#include "live_call.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

constexpr double kAdaHz = 440, kBobHz = 660, kPausedHz = 1200;
constexpr double kAmplitude = 0.2;

class LiveTimingTest : public ::testing::Test {
 protected:
  void SetUp() override { av_log_set_level(AV_LOG_QUIET); }
};

// Pause at exactly 1 s, resume at exactly 2 s, stop at 3.5 s: 2.5 s of media, the
// second's pause listed to the millisecond, and nothing of what was said during it.
TEST_F(LiveTimingTest, PauseAndResumeAreCutExactly) {
  VirtualCall call("timing_pause");
  Session& s = call.session();
  ASSERT_TRUE(s.join("8:acs:ada", "Ada"));
  ASSERT_TRUE(s.start("op-start").status);
  int64_t sample = 0;
  const auto speak = [&](int64_t t) {
    const double hz = t >= 1000 && t < 2000 ? kPausedHz : kAdaHz;
    std::vector<int16_t> pcm(320);
    for (int i = 0; i < 320; ++i) pcm[i] = int16_t(kAmplitude * 32767 * std::sin(2 * M_PI * hz * double(sample + i) / 16000));
    sample += 320;
    ASSERT_TRUE(s.push_pcm("8:acs:ada", pcm, 16000, 1, MediaTime::from_ms(t)));
  };
  call.run_until(1000, {speak});
  ASSERT_TRUE(s.pause("op-pause"));
  EXPECT_EQ(s.state(), RecordingState::kInactive);
  call.run_until(2000, {speak});
  ASSERT_TRUE(s.resume("op-resume"));
  call.run_until(3500, {speak});
  const VirtualCall::Recording r = call.finish({});
  ASSERT_TRUE(r.status) << r.status.message();
  EXPECT_EQ(r.notification["data"]["recordingDurationMs"], 2500);
  ASSERT_EQ(r.chunks.size(), 1u);
  EXPECT_EQ(r.chunks[0]["chunkDuration"], 2500);
  ASSERT_EQ(r.chunks[0]["pauseResumeIntervals"].size(), 1u);
  EXPECT_EQ(r.chunks[0]["pauseResumeIntervals"][0]["duration"], 1000);
  EXPECT_EQ(r.chunks[0]["pauseResumeIntervals"][0]["startTime"], "2026-01-01T00:00:01.000Z");
  EXPECT_EQ(r.chunks[0]["chunkStartTime"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(r.media.info.video_frames, 20);
  EXPECT_NEAR(static_cast<double>(r.media.audio.size()), 40000.0, 1024.0);
  EXPECT_LT(tone_between(r.media.audio, kPausedHz, 0, 2.5), 0.005) << "paused audio is cut";
  EXPECT_GT(tone_between(r.media.audio, kAdaHz, 0.1, 0.9), 0.15);
  EXPECT_GT(tone_between(r.media.audio, kAdaHz, 1.1, 2.4), 0.15);
  std::vector<std::string> contexts;
  for (const SessionEvent& e : call.events()) {
    if (e.kind == SessionEventKind::kStateChanged) contexts.push_back(e.operation + "/" + e.operation_context);
  }
  EXPECT_EQ(contexts, (std::vector<std::string>{"start/op-start", "pause/op-pause", "resume/op-resume", "stop/op-stop"}));
}

const Packets& opus(double hz) {
  static std::map<double, Packets> clips;
  auto& p = clips[hz];
  if (p.empty()) p = opus_tone(hz, kAmplitude, 5000);
  return p;
}
const Packets& vp8(Yuv colour) {
  static std::map<int, Packets> clips;
  auto& p = clips[colour.y * 65536 + colour.u * 256 + colour.v];
  if (p.empty()) p = video_colour(VideoCodec::kVp8, colour, 15, 75, 15);
  return p;
}

// A participant who leaves and joins again from a new client: its RTP timestamps start
// from a new base. It was not recorded at all (the old RTP clocks were kept and its new
// media parked as "in the future" until the queue filled); now the join starts fresh
// clocks and the rejoin is recorded.
TEST_F(LiveTimingTest, RejoinFromANewClientIsRecorded) {
  VirtualCall call("timing_rejoin");
  Session& s = call.session();
  ASSERT_TRUE(s.join("8:acs:ada", "Ada"));
  ASSERT_TRUE(s.join("8:acs:bob", "Bob"));
  ASSERT_TRUE(s.start().status);
  RtpSender ada_audio = RtpSender::opus(s, "8:acs:ada", opus(kAdaHz), 0, 1000);
  RtpSender ada_video = RtpSender::video(s, "8:acs:ada", VideoCodec::kVp8, vp8(kRed), 15, 0, 5000);
  RtpSender bob_audio = RtpSender::opus(s, "8:acs:bob", opus(kBobHz), 0, 0xFFFFF000u);
  RtpSender bob_video = RtpSender::video(s, "8:acs:bob", VideoCodec::kVp8, vp8(kGreen), 15, 0, 77);
  const auto ada = [&](int64_t t) {
    ada_audio.tick(t);
    ada_video.tick(t);
  };
  call.run_until(1500, {ada, [&](int64_t t) {
                          bob_audio.tick(t);
                          bob_video.tick(t);
                        }});
  ASSERT_TRUE(s.leave("8:acs:bob"));
  call.run_until(2000, {ada});
  ASSERT_TRUE(s.join("8:acs:bob", "Bob"));
  // The new client: other RTP bases, other colour.
  RtpSender bob_audio2 = RtpSender::opus(s, "8:acs:bob", opus(kBobHz), 2000, 0x3000000u);
  RtpSender bob_video2 = RtpSender::video(s, "8:acs:bob", VideoCodec::kVp8, vp8(kBlue), 15, 2000, 0x80000000u);
  call.run_until(4000, {ada, [&](int64_t t) {
                          bob_audio2.tick(t);
                          bob_video2.tick(t);
                        }});
  const SessionStats stats = s.stats();
  const VirtualCall::Recording r = call.finish({1000, 1750, 3000});
  ASSERT_TRUE(r.status) << r.status.message();
  EXPECT_EQ(bob_audio2.refused() + bob_video2.refused(), 0) << "the new client's media is taken";
  EXPECT_EQ(stats.media_dropped_timestamp, 0);
  EXPECT_EQ(stats.media_dropped_queue_full, 0);
  EXPECT_EQ(stats.rtp_clock_resets, 0) << "a rejoin starts fresh clocks; nothing had to be re-anchored";
  EXPECT_GT(tone_between(r.media.audio, kBobHz, 0.3, 1.4), 0.12) << "Bob before leaving";
  EXPECT_LT(tone_between(r.media.audio, kBobHz, 1.6, 1.9), 0.01) << "Bob away";
  EXPECT_GT(tone_between(r.media.audio, kBobHz, 2.3, 3.7), 0.12) << "Bob after rejoining";
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(1000), 2, 1), kGreen));
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(1750), 1, 0), kRed)) << "Ada alone while Bob is away";
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(3000), 2, 0), kRed));
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(3000), 2, 1), kBlue)) << "Bob's new camera";
}

// A sender that restarts without leaving (a new SSRC with a new random base): the jump
// is confirmed by the packets after it, 100 ms are lost, then the stream is recorded
// again where it belongs.
TEST_F(LiveTimingTest, SenderRestartIsReanchoredAfterATenthOfASecond) {
  VirtualCall call("timing_restart");
  Session& s = call.session();
  ASSERT_TRUE(s.join("8:acs:bob", "Bob"));
  ASSERT_TRUE(s.start().status);
  RtpSender before = RtpSender::opus(s, "8:acs:bob", opus(kBobHz), 0, 12345);
  RtpSender after = RtpSender::opus(s, "8:acs:bob", opus(kAdaHz), 1500, 0xC0000000u);
  call.run_until(1500, {[&](int64_t t) { before.tick(t); }});
  call.run_until(3500, {[&](int64_t t) { after.tick(t); }});
  const SessionStats stats = s.stats();
  const VirtualCall::Recording r = call.finish({});
  ASSERT_TRUE(r.status) << r.status.message();
  EXPECT_EQ(after.refused(), 5) << "100 ms of 20 ms packets until the jump is confirmed";
  EXPECT_EQ(stats.media_dropped_timestamp, 5);
  EXPECT_EQ(stats.rtp_clock_resets, 1);
  EXPECT_GT(tone_between(r.media.audio, kBobHz, 0.2, 1.4), 0.12);
  EXPECT_LT(tone_between(r.media.audio, kAdaHz, 1.5, 1.59), 0.02) << "the unconfirmed tenth of a second";
  EXPECT_GT(tone_between(r.media.audio, kAdaHz, 1.7, 3.4), 0.12) << "the restarted sender, placed afresh";
  const std::vector<std::string> lines = media_problems(r.chunks);
  ASSERT_EQ(lines.size(), 2u);
  // Call time, and the wall-clock time (the VirtualClock starts at 2026-01-01T00:00:00Z,
  // as does the call) that `callrec report` places on its timeline.
  EXPECT_NE(lines[0].find("at 1.500 s (2026-01-01T00:00:01.500Z): audio media dropped"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("at 1.600 s (2026-01-01T00:00:01.600Z): the audio RTP timestamps jumped"),
            std::string::npos)
      << lines[1];
}

// Network jitter within the jitter window changes nothing: packets that arrive out of
// order up to 180 ms late are placed where they belong, and the recording's sound is
// sample for sample that of the same call without jitter. (The first packet of each
// stream comes on time: it anchors the stream's RTP clock at its arrival.)
TEST_F(LiveTimingTest, JitterWithinTheWindowLeavesTheRecordingUnchanged) {
  const auto record = [](const std::string& name, int max_delay_ms) {
    VirtualCall call(name);
    Session& s = call.session();
    EXPECT_TRUE(s.join("8:acs:ada", "Ada"));
    EXPECT_TRUE(s.start().status);
    // 3 s of media, delivered in full before the stop at 3.4 s.
    const Packets sound(opus(kAdaHz).begin(), opus(kAdaHz).begin() + 150);
    const Packets pictures(vp8(kRed).begin(), vp8(kRed).begin() + 45);
    RtpSender audio = RtpSender::opus(s, "8:acs:ada", sound, 0, 0xFFFFFF00u, {.max_delay_ms = max_delay_ms, .seed = 4, .first_on_time = true});
    RtpSender video =
        RtpSender::video(s, "8:acs:ada", VideoCodec::kVp8, pictures, 15, 0, 9, {.max_delay_ms = max_delay_ms, .seed = 5, .first_on_time = true});
    call.run_until(3400, {[&](int64_t t) { audio.tick(t); }, [&](int64_t t) { video.tick(t); }});
    VirtualCall::Recording r = call.finish({});
    EXPECT_TRUE(r.status) << r.status.message();
    return r;
  };
  const VirtualCall::Recording clean = record("timing_no_jitter", 0);
  const VirtualCall::Recording jittered = record("timing_jitter", 180);
  ASSERT_EQ(jittered.chunks.size(), 1u);
  const nlohmann::json ada = participant_stats(jittered.chunks[0], "8:acs:ada");
  EXPECT_EQ(ada["audioSamplesDroppedLate"], 0);
  EXPECT_EQ(ada["opusPacketsLost"], 0);
  EXPECT_EQ(ada["opusPacketsDiscarded"], 0);
  EXPECT_EQ(ada["videoFramesDroppedLate"], 0);
  ASSERT_EQ(jittered.media.audio.size(), clean.media.audio.size());
  EXPECT_TRUE(jittered.media.audio == clean.media.audio) << "the same sound, sample for sample";
  EXPECT_EQ(jittered.media.info.video_frames, clean.media.info.video_frames);
}

// Lost packets are concealed and counted one by one; packets held up beyond the jitter
// window are dropped and counted one by one (the gap they leave was concealed as loss
// before they came).
TEST_F(LiveTimingTest, LossAndLateMediaAreCountedExactly) {
  VirtualCall call("timing_loss_late");
  Session& s = call.session();
  ASSERT_TRUE(s.join("8:acs:ada", "Ada"));
  ASSERT_TRUE(s.start().status);
  RtpSender audio = RtpSender::opus(s, "8:acs:ada", opus(kAdaHz), 0, 0, {.max_delay_ms = 40, .loss_percent = 5, .seed = 11});
  RtpSender video = RtpSender::video(s, "8:acs:ada", VideoCodec::kVp8, vp8(kRed), 15, 0, 0, {.max_delay_ms = 40, .seed = 12});
  audio.hold_back(2000, 2200, 500);  // ten packets 500 ms later than the window allows
  video.hold_back(2000, 2200, 500);
  call.run_until(4000, {[&](int64_t t) { audio.tick(t); }, [&](int64_t t) { video.tick(t); }});
  const VirtualCall::Recording r = call.finish({});
  ASSERT_TRUE(r.status) << r.status.message();
  int lost_before_hold = 0, lost_in_hold = 0;
  for (const size_t k : audio.lost_indices()) (k >= 100 && k < 110 ? lost_in_hold : lost_before_hold) += 1;
  ASSERT_GT(lost_before_hold, 3);
  const nlohmann::json ada = participant_stats(r.chunks[0], "8:acs:ada");
  EXPECT_EQ(ada["opusPacketsLost"], lost_before_hold + 10) << "each lost packet, and the ten held back";
  EXPECT_EQ(ada["opusPacketsDiscarded"], 10 - lost_in_hold) << "the held-back packets that did arrive, too late";
  EXPECT_EQ(ada["videoFramesDroppedLate"], 3) << "the pictures of 2.0-2.2 s (15 fps)";
  EXPECT_GT(tone_between(r.media.audio, kAdaHz, 2.3, 3.8), 0.12);
}

}  // namespace
}  // namespace callrec::testing
