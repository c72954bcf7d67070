// The receiver driven datagram by datagram in virtual time: no sockets.
#include "callrec/ingest/participant_receiver.h"

#include <gtest/gtest.h>

#include "test_packets.h"

namespace callrec::ingest {
namespace {

constexpr int64_t kNtpBase = 3'900'000'000'000'000;
const SourceAddress kSender = SourceAddress::ipv4(127, 0, 0, 1, 40000);
const SourceAddress kSenderRtcp = SourceAddress::ipv4(127, 0, 0, 1, 40001);

StreamDescription audio_stream() {
  StreamDescription s;
  s.kind = MediaKind::kAudio;
  s.rtp_port = 5000;
  s.formats = {PayloadFormat{.payload_type = 111, .codec = Codec::kOpus, .clock_rate_hz = 48000, .channels = 2}};
  s.audio_level_extension_id = 1;
  return s;
}

StreamDescription video_stream() {
  StreamDescription s;
  s.kind = MediaKind::kVideo;
  s.rtp_port = 5002;
  s.formats = {PayloadFormat{.payload_type = 96, .codec = Codec::kVp8, .clock_rate_hz = 90000}};
  return s;
}

class ReceiverTest : public ::testing::Test {
 protected:
  void make(std::vector<StreamDescription> streams, ReceiverConfig config = {}) {
    receiver = std::make_unique<ParticipantReceiver>(ParticipantMedia{std::move(streams)}, sink, rtcp, config);
  }
  // An Opus packet (CELT 20 ms TOC) with sequence `seq`, timestamp 960 * seq.
  void audio(uint16_t seq, int64_t at_us, uint32_t ssrc = 0xa0, uint32_t ts_base = 1000,
             const SourceAddress& from = kSender) {
    const auto bytes = test::rtp({.payload_type = 111, .sequence_number = seq,
                                  .timestamp = ts_base + 960u * seq, .ssrc = ssrc},
                                 {0xfc, 0x01, 0x02}, {{1, {static_cast<uint8_t>(0x80 | (seq % 100))}}});
    now = at_us;
    receiver->on_datagram(0, Channel::kRtp, bytes, from, at_us);
  }
  void video(int stream, uint16_t seq, uint32_t ts, bool start, bool marker, bool key, int64_t at_us,
             uint32_t ssrc = 0xb0) {
    const auto payload = test::vp8_payload(start, start ? (key ? test::vp8_key_frame_start() : test::vp8_inter_frame_start())
                                                        : std::vector<uint8_t>{1, 2, 3});
    const auto bytes = test::rtp({.payload_type = 96, .marker = marker, .sequence_number = seq, .timestamp = ts, .ssrc = ssrc},
                                 payload);
    now = at_us;
    receiver->on_datagram(stream, Channel::kRtp, bytes, kSender, at_us);
  }
  void tick(int64_t until_us) {
    for (; now <= until_us; now += 10'000) receiver->on_timer(now);
  }

  test::RecordingSink sink;
  test::RecordingRtcp rtcp;
  std::unique_ptr<ParticipantReceiver> receiver;
  int64_t now = 0;
};

TEST_F(ReceiverTest, AudioComesOutInOrderWithLossCountedAndLevelRead) {
  make({audio_stream()});
  audio(0, 0);
  audio(2, 40'000);  // 1 is late
  audio(1, 45'000);
  audio(3, 60'000);
  audio(5, 100'000);  // 4 never comes
  tick(200'000);
  audio(4, 210'000);  // too late now
  ASSERT_EQ(sink.audio.size(), 5u);
  std::vector<uint32_t> ts;
  for (const auto& a : sink.audio) ts.push_back(a.rtp_timestamp);
  EXPECT_EQ(ts, (std::vector<uint32_t>{1000, 1960, 2920, 3880, 5800}));
  EXPECT_EQ(sink.audio[4].lost_before, 1);
  EXPECT_EQ(sink.audio[4].silence_before_48k, 0);
  EXPECT_EQ(sink.audio[2].level, 2);
  EXPECT_TRUE(sink.audio[0].segment_start);
  EXPECT_FALSE(sink.audio[1].segment_start);
  // Capture times follow the timestamps: 20 ms apart.
  EXPECT_EQ(sink.audio[1].capture_us - sink.audio[0].capture_us, 20'000);
  EXPECT_EQ(sink.audio[4].capture_us - sink.audio[0].capture_us, 100'000);
  const StreamStats& s = receiver->stream(0).stats();
  EXPECT_EQ(s.packets_lost, 1);
  EXPECT_EQ(s.packets_late, 1);
}

TEST_F(ReceiverTest, ADtxPauseIsSilenceNotLossNorShift) {
  make({audio_stream()});
  audio(0, 0);
  audio(1, 20'000);
  // Sequence 2 carries timestamp 1000 + 960*50: one second of DTX silence.
  const auto bytes = test::rtp({.payload_type = 111, .sequence_number = 2, .timestamp = 1000 + 960 * 50, .ssrc = 0xa0},
                               {0xfc, 1});
  receiver->on_datagram(0, Channel::kRtp, bytes, kSender, 1'000'000);
  ASSERT_EQ(sink.audio.size(), 3u);
  EXPECT_EQ(sink.audio[2].lost_before, 0);
  EXPECT_EQ(sink.audio[2].silence_before_48k, 48 * 960);
  EXPECT_EQ(sink.audio[2].capture_us - sink.audio[0].capture_us, 1'000'000);
}

TEST_F(ReceiverTest, PacketsFromElsewhereOrMalformedAreDroppedAndCounted) {
  make({audio_stream()});
  audio(0, 0);
  audio(1, 20'000, 0xa0, 1000, SourceAddress::ipv4(127, 0, 0, 2, 40000));  // another host
  const std::vector<uint8_t> garbage = {0x80, 111, 0, 1};
  receiver->on_datagram(0, Channel::kRtp, garbage, kSender, 30'000);
  const auto wrong_pt = test::rtp({.payload_type = 100, .sequence_number = 1, .ssrc = 0xa0}, {1});
  receiver->on_datagram(0, Channel::kRtp, wrong_pt, kSender, 30'000);
  auto padding_only = test::rtp({.payload_type = 111, .sequence_number = 1, .timestamp = 1960, .ssrc = 0xa0}, {0, 2});
  padding_only[0] |= 0x20;
  receiver->on_datagram(0, Channel::kRtp, padding_only, kSender, 30'000);
  audio(2, 40'000);
  const StreamStats& s = receiver->stream(0).stats();
  EXPECT_EQ(s.dropped_unexpected_source, 1);
  EXPECT_EQ(s.dropped_malformed, 1);
  EXPECT_EQ(s.dropped_unknown_payload_type, 1);
  EXPECT_EQ(s.dropped_padding_only, 1);
  EXPECT_EQ(s.packets_lost, 0);  // the padding packet filled sequence 1
  EXPECT_EQ(sink.audio.size(), 2u);
  // After half a second of silence from the first source, a new one is accepted.
  audio(3, 600'000, 0xa0, 1000, SourceAddress::ipv4(127, 0, 0, 2, 40000));
  EXPECT_EQ(sink.audio.size(), 3u);
}

TEST_F(ReceiverTest, AnSsrcChangeStartsANewSegmentWithoutAJump) {
  make({audio_stream()});
  for (uint16_t i = 0; i < 10; ++i) audio(i, i * 20'000);
  // The sender restarts: new SSRC, new sequence and timestamp bases, 20 ms later.
  for (uint16_t i = 0; i < 10; ++i) audio(static_cast<uint16_t>(30000 + i), 200'000 + i * 20'000, 0xa1, 777'777);
  tick(500'000);
  ASSERT_EQ(sink.audio.size(), 20u);
  EXPECT_TRUE(sink.audio[10].segment_start);
  EXPECT_EQ(sink.audio[10].ssrc, 0xa1u);
  EXPECT_EQ(sink.audio[10].capture_us - sink.audio[9].capture_us, 20'000);
  EXPECT_EQ(receiver->stream(0).stats().ssrc_changes, 1);
}

TEST_F(ReceiverTest, AnotherSsrcWhileTheFirstStillSendsIsHeldThenDropped) {
  make({audio_stream()});
  for (uint16_t i = 0; i < 100; ++i) {
    audio(i, i * 20'000);
    audio(static_cast<uint16_t>(500 + i), i * 20'000 + 1, 0xbad, 5);  // a stray SSRC alongside
  }
  EXPECT_EQ(sink.audio.size(), 100u);
  for (const auto& a : sink.audio) EXPECT_EQ(a.ssrc, 0xa0u);
  EXPECT_EQ(receiver->stream(0).stats().dropped_unexpected_ssrc, 100 - 64);
}

TEST_F(ReceiverTest, ARestartOfTheSameSsrcIsConfirmedByTheNextPacket) {
  make({audio_stream()});
  for (uint16_t i = 0; i < 5; ++i) audio(i, i * 20'000);
  audio(40000, 100'000);  // far jump: on probation
  EXPECT_EQ(sink.audio.size(), 5u);
  audio(40001, 120'000);  // confirmed: a restart
  audio(40002, 140'000);
  EXPECT_EQ(sink.audio.size(), 7u);
  EXPECT_TRUE(sink.audio[5].segment_start);
  EXPECT_EQ(receiver->stream(0).stats().dropped_bad_sequence, 1);
}

TEST_F(ReceiverTest, ReceiverReportsGoBackWithLossAndLastSenderReport) {
  make({audio_stream()});
  receiver->on_datagram(0, Channel::kRtcp, test::sender_report(0xa0, kNtpBase, 1000), kSenderRtcp, 0);
  for (uint16_t i = 0; i < 50; ++i)
    if (i % 10 != 5) audio(i, i * 20'000);
  tick(1'100'000);
  ASSERT_FALSE(rtcp.sent.empty());
  const auto& sent = rtcp.sent.front();
  EXPECT_EQ(sent.to, kSenderRtcp);
  ASSERT_TRUE(sent.compound);
  ASSERT_EQ(sent.compound->receiver_reports.size(), 1u);
  const ReportBlock& b = sent.compound->receiver_reports[0].blocks.at(0);
  EXPECT_EQ(b.ssrc, 0xa0u);
  EXPECT_EQ(b.cumulative_lost, 5);
  EXPECT_EQ(b.extended_highest_sequence, 49u);
  EXPECT_EQ(b.fraction_lost, 5 * 256 / 50);
  EXPECT_EQ(b.last_sr, NtpTime::from_us(kNtpBase).compact());
  EXPECT_GE(b.delay_since_last_sr, 65536u);  // a second ago
  EXPECT_EQ(receiver->stream(0).stats().sender_reports, 1);
}

TEST_F(ReceiverTest, VideoLossHoldsDeltaFramesAndSendsThrottledPlis) {
  make({video_stream()});
  uint16_t seq = 0;
  uint32_t ts = 90000;
  int64_t t = 0;
  auto frame = [&](bool key, bool lose_second_packet = false) {
    video(0, seq++, ts, true, false, key, t);
    if (lose_second_packet) seq++;
    else video(0, seq++, ts, false, false, key, t + 1000);
    video(0, seq++, ts, false, true, key, t + 2000);
    ts += 3000;
    t += 33'333;
    tick(t);
  };
  frame(true);
  frame(false);
  frame(false, /*lose_second_packet=*/true);  // broken
  for (int i = 0; i < 40; ++i) frame(false);  // 1.3 s of delta frames: held back
  const int plis = rtcp.plis();
  EXPECT_GE(plis, 2);  // at once, then every 500 ms
  EXPECT_LE(plis, 4);
  frame(true);
  frame(false);
  ASSERT_EQ(sink.video.size(), 4u);
  EXPECT_TRUE(sink.video[0].keyframe);
  EXPECT_TRUE(sink.video[2].keyframe);
  EXPECT_EQ(sink.video[2].rtp_timestamp - sink.video[1].rtp_timestamp, 42u * 3000);
  tick(t + 2'000'000);
  EXPECT_EQ(rtcp.plis(), plis);  // none after the key frame came
  const StreamStats& s = receiver->stream(0).stats();
  EXPECT_EQ(s.frames_broken, 1);
  EXPECT_EQ(s.frames_waiting_for_keyframe, 40);
  EXPECT_EQ(s.plis_sent, plis);
  for (const auto& sent : rtcp.sent) EXPECT_EQ(sent.to, kSender.with_port(40001));
}

TEST_F(ReceiverTest, ConsumerKeyFrameRequestsCloseTheGate) {
  make({video_stream()});
  video(0, 0, 3000, true, true, true, 0);
  video(0, 1, 6000, true, true, false, 33'000);
  receiver->request_keyframe(0, 40'000);
  EXPECT_EQ(rtcp.plis(), 1);
  video(0, 2, 9000, true, true, false, 66'000);
  EXPECT_EQ(sink.video.size(), 2u);
}

TEST_F(ReceiverTest, SenderReportsPlaceAudioAndVideoTogether) {
  make({audio_stream(), video_stream()});
  // Audio and video captured together; video takes 300 ms longer to arrive. Both
  // streams' reports map their timestamps to one wall clock.
  const uint32_t audio_base = 1000, video_base = 50'000;
  receiver->on_datagram(0, Channel::kRtcp, test::sender_report(0xa0, kNtpBase, audio_base), kSenderRtcp, 0);
  receiver->on_datagram(1, Channel::kRtcp, test::sender_report(0xb0, kNtpBase, video_base), kSenderRtcp, 300'000);
  uint16_t vseq = 0;
  for (int64_t ms = 0; ms < 3000; ms += 10) {
    const int64_t us = ms * 1000;
    if (ms % 20 == 0) audio(static_cast<uint16_t>(ms / 20), 10'000 + us);
    if (ms % 40 == 0) {
      const auto ts = static_cast<uint32_t>(video_base + ms * 90);
      video(1, vseq, ts, true, true, vseq == 0, 310'000 + us);
      ++vseq;
    }
    tick(us);
  }
  ASSERT_GT(sink.video.size(), 50u);
  // Capture time minus sender time (from the timestamps) is the same for both.
  const auto& a = sink.audio.back();
  const auto& v = sink.video.back();
  const int64_t audio_offset = a.capture_us - (a.rtp_timestamp - audio_base) * 1'000'000LL / 48000;
  const int64_t video_offset = v.capture_us - (v.rtp_timestamp - video_base) * 1'000'000LL / 90000;
  EXPECT_NEAR(static_cast<double>(audio_offset - video_offset), 0.0, 100.0);
  EXPECT_NEAR(static_cast<double>(video_offset), 310'000.0, 1000.0);
}

}  // namespace
}  // namespace callrec::ingest
