#include "callrec/ingest/participant_clock.h"

#include <gtest/gtest.h>

namespace callrec::ingest {
namespace {

constexpr int64_t kNtpBase = 3'900'000'000'000'000;

TEST(TransitWindowTest, KeepsTheMinimumOfTheLastTenBuckets) {
  TransitWindow w(1'000'000);
  EXPECT_FALSE(w.min());
  w.add(0, 50);
  w.add(500'000, 30);
  w.add(1'200'000, 40);
  EXPECT_EQ(w.min(), 30);
  w.add(10'100'000, 45);  // bucket 0 falls out
  EXPECT_EQ(w.min(), 40);
  w.add(30'000'000, 60);  // a long pause forgets everything before
  EXPECT_EQ(w.min(), 60);
}

TEST(SlewedOffsetTest, StepsUpAndSlewsDown) {
  SlewedOffset o(40'000, 0.001);
  o.update(100'000, 0);
  EXPECT_EQ(o.value(), 100'000);
  o.update(400'000, 1'000);  // 300 ms more: a step
  EXPECT_EQ(o.value(), 400'000);
  EXPECT_EQ(o.steps(), 1);
  o.update(0, 10'001'000);  // down: 1 ms per second
  EXPECT_EQ(o.value(), 390'000);
  o.update(420'000, 20'001'000);  // up by less than the step: slewed too
  EXPECT_EQ(o.value(), 400'000);
  o.update(401'000, 20'002'000);  // just 1 µs of credit per ms
  EXPECT_EQ(o.value(), 400'001);
}

// Audio (stream 0, 20 ms packets) and video (stream 1, 33 ms frames) of one sender, the
// video path 300 ms slower; both streams have sender reports on one wall clock.
TEST(ParticipantClockTest, SenderReportsKeepAudioAndVideoTogetherDespiteExtraVideoDelay) {
  ParticipantClock clock(2);
  SenderClock audio_sr, video_sr;
  // RTP media times start at different random bases.
  const int64_t audio_base = 123'456'789, video_base = 987'654'321;
  audio_sr.on_sender_report(kNtpBase, audio_base);
  video_sr.on_sender_report(kNtpBase, video_base);
  const int64_t net = 20'000, extra_video = 300'000;
  std::vector<std::pair<int64_t, int64_t>> audio, video;  // (sender time, capture)
  for (int64_t t = 0; t < 20'000'000; t += 1000) {  // sender wall time, 1 ms steps
    if (t % 20'000 == 0) {
      const int64_t jitter = (t / 20'000) % 7 * 1000;
      audio.emplace_back(t, clock.place(0, audio_base + t, t + net + jitter, &audio_sr));
    }
    if (t % 33'000 == 0) {
      const int64_t jitter = (t / 33'000) % 5 * 2000;
      video.emplace_back(t, clock.place(1, video_base + t, t + net + extra_video + jitter, &video_sr));
    }
  }
  // After the first video frame, both streams are placed at sender time + the same offset.
  auto offset_at = [](const auto& units, int64_t after) {
    for (const auto& [t, c] : units)
      if (t >= after) return c - t;
    return int64_t{-1};
  };
  for (const int64_t at : {int64_t{1'000'000}, int64_t{5'000'000}, int64_t{19'000'000}}) {
    EXPECT_EQ(offset_at(audio, at), offset_at(video, at)) << at;
    EXPECT_NEAR(static_cast<double>(offset_at(video, at)), static_cast<double>(net + extra_video), 1000.0) << at;
  }
  // Nothing placed before it arrived (beyond jitter): video's offset is its delay.
  EXPECT_EQ(clock.offset_steps(), 1);  // one step when the slower video showed up
  EXPECT_TRUE(clock.state(1).sender_reports);
}

TEST(ParticipantClockTest, WithoutSenderReportsArrivalPlacesEachStreamAndAbsorbsSkew) {
  ParticipantClock clock(1);
  // The sender's clock runs 200 ppm slow: its media time falls behind arrival.
  int64_t last_capture = 0;
  for (int64_t i = 0; i < 100'000; ++i) {  // 2000 s of 20 ms packets
    const int64_t media = 5'000'000 + i * 20'000;
    const int64_t arrival = 40'000 + i * 20'004 + (i % 3) * 3000;  // 20.004 ms apart, jitter
    const int64_t capture = clock.place(0, media, arrival, nullptr);
    if (i > 0) {
      EXPECT_GE(capture - last_capture, 20'000 - 1) << i;
      EXPECT_LE(capture - last_capture, 20'000 + 100) << i;  // slews, never steps
    }
    last_capture = capture;
    // Placed no earlier than the fastest arrival, and not much later.
    const int64_t lateness = capture - (40'000 + i * 20'004);
    if (i > 1000) {
      EXPECT_GE(lateness, -2500) << i;
      EXPECT_LE(lateness, 5000) << i;
    }
  }
  EXPECT_FALSE(clock.state(0).sender_reports);
}

TEST(ParticipantClockTest, ADtxPauseIsNotATimeShift) {
  ParticipantClock clock(1);
  const int64_t c0 = clock.place(0, 1'000'000, 50'000, nullptr);
  clock.place(0, 1'020'000, 70'000, nullptr);
  // 3 s of silence: the timestamps jump by 3 s, arrival too.
  const int64_t c2 = clock.place(0, 4'040'000, 3'090'000, nullptr);
  EXPECT_EQ(c2 - c0, 3'040'000);
}

TEST(ParticipantClockTest, TheFirstSenderReportDoesNotMoveAStream) {
  ParticipantClock clock(1);
  SenderClock sr;
  int64_t last = 0;
  for (int64_t i = 0; i < 500; ++i) {
    if (i == 200) sr.on_sender_report(kNtpBase + 4'000'000, 777 + 4'000'000);
    const int64_t capture = clock.place(0, 777 + i * 20'000, 30'000 + i * 20'000, &sr);
    if (i > 0) {
      EXPECT_NEAR(static_cast<double>(capture - last), 20'000.0, 2.0) << i;
    }
    last = capture;
  }
  EXPECT_TRUE(clock.state(0).sender_reports);
}

TEST(ParticipantClockTest, ANewSegmentContinuesFromArrival) {
  ParticipantClock clock(1);
  clock.place(0, 1'000'000, 10'000, nullptr);
  const int64_t before = clock.place(0, 1'020'000, 30'000, nullptr);
  clock.start_segment(0);  // a new SSRC with another timestamp base
  const int64_t after = clock.place(0, 900'000'000, 50'000, nullptr);
  EXPECT_EQ(after - before, 20'000);
}

}  // namespace
}  // namespace callrec::ingest
