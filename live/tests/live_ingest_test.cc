// LiveIngest: RTP sent on loopback into a Session that runs in virtual time. Each 20 ms
// tick sends what is due, waits until the ingest has taken every datagram, then advances
// the clock: arrival times are exact, so the recording is the same on a loaded machine.
#include "callrec/live_ingest.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "callrec/ingest/rtcp_compound.h"
#include "callrec/ingest/sdp_description.h"
#include "live_call.h"
#include "rtp_packetizer.h"
#include "sender_harness.h"

namespace callrec {
namespace {

using testing::kBlue;
using testing::kGreen;
using testing::kRed;
using testing::near;
using testing::Packets;
using testing::tile_colour;
using testing::tone_between;
using testing::VirtualCall;
using testing::Yuv;

// A UDP socket on 127.0.0.1 (an ephemeral port) that sends one stream's RTP.
class UdpSocket {
 public:
  UdpSocket() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~UdpSocket() { ::close(fd_); }
  void send_to(uint16_t port, const std::vector<uint8_t>& data) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  // Datagrams that came back within `timeout`.
  std::vector<std::vector<uint8_t>> receive(std::chrono::milliseconds timeout) const {
    std::vector<std::vector<uint8_t>> out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      std::vector<uint8_t> buf(2048);
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n > 0) out.emplace_back(buf.begin(), buf.begin() + n);
    }
    return out;
  }

 private:
  int fd_ = -1;
};

// One stream of one participant: encoded units sent as RTP on schedule.
struct StreamSender {
  bool audio = true;
  int fps = 50;  // units a second (Opus: 20 ms packets)
  Packets units;
  uint16_t port = 0;
  int stream = 0;
  uint8_t payload_type = 96;
  uint32_t ssrc = 0x1234;
  uint32_t rtp_base = 1000;
  int64_t start_ms = 0;
  size_t next = 0;
  int packets_sent = 0;
  std::unique_ptr<UdpSocket> socket = std::make_unique<UdpSocket>();
  std::unique_ptr<ingest::test::RtpSequenceWriter> writer;

  // Sends every unit due by `call_ms`.
  void tick(int64_t call_ms) {
    if (!writer) writer = std::make_unique<ingest::test::RtpSequenceWriter>(payload_type, ssrc);
    while (next < units.size() && start_ms + static_cast<int64_t>(next) * 1000 / fps <= call_ms) {
      const uint32_t ts = rtp_base + static_cast<uint32_t>(next * (audio ? 960 : 90000 / fps));
      const auto payloads = audio ? std::vector<std::vector<uint8_t>>{units[next]}
                                  : ingest::test::packetize_vp8(units[next], {});
      for (const auto& packet : writer->frame(payloads, ts)) {
        socket->send_to(port, packet);
        ++packets_sent;
      }
      ++next;
    }
  }
  // From now on: another SSRC with its own sequence and timestamp bases (a restarted sender).
  void switch_ssrc(uint32_t new_ssrc, uint32_t new_rtp_base) {
    ssrc = new_ssrc;
    writer = std::make_unique<ingest::test::RtpSequenceWriter>(payload_type, ssrc, 40000);
    rtp_base = new_rtp_base - static_cast<uint32_t>(next * (audio ? 960 : 90000 / fps));
  }
};

class LiveIngestTest : public ::testing::Test {
 protected:
  void make_call(const std::string& name) {
    call = std::make_unique<VirtualCall>(name, [this](SessionConfig& c) {
      auto keep = c.on_event;
      c.on_event = [this, keep](const SessionEvent& e) {
        keep(e);
        if (ingest) ingest->on_session_event(e);
      };
    });
    ingest = std::make_unique<LiveIngest>(call->session());
    ASSERT_TRUE(call->session().start("op-start").status.ok());
  }

  // Runs the call to `until_ms`, sending every sender's units on time; each tick waits
  // (in real time, at most 10 s) until the ingest has taken all that was sent.
  void run_until(int64_t until_ms, std::vector<StreamSender*> senders,
                 const std::function<void(int64_t)>& before_tick = {}) {
    call->run_until(until_ms, {[&](int64_t ms) {
                      if (before_tick) before_tick(ms);
                      for (StreamSender* s : senders) s->tick(ms);
                      wait_taken(senders);
                    }});
  }
  void wait_taken(const std::vector<StreamSender*>& senders) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (StreamSender* s : senders) {
      while (true) {
        const auto st = ingest->stats(ids.at(s));
        if (st.size() > static_cast<size_t>(s->stream) &&
            st[static_cast<size_t>(s->stream)].datagrams >= s->packets_sent)
          break;
        if (std::chrono::steady_clock::now() > until) {
          ADD_FAILURE() << "the ingest did not take every datagram sent to " << ids.at(s) << "'s stream " << s->stream;
          return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  }

  std::unique_ptr<VirtualCall> call;
  std::unique_ptr<LiveIngest> ingest;  // destroyed before the call's session
  std::map<StreamSender*, std::string> ids;
};

std::string sdp_for(uint16_t audio_port, uint16_t video_port, bool video_is_screen = false,
                    std::optional<uint16_t> screen_port = std::nullopt) {
  std::string sdp =
      "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
      "m=audio " + std::to_string(audio_port) + " RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
      "m=video " + std::to_string(video_port) + " RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
  if (video_is_screen) sdp += "a=content:slides\r\n";
  if (screen_port)
    sdp += "m=video " + std::to_string(*screen_port) + " RTP/AVP 97\r\na=rtpmap:97 VP8/90000\r\na=content:slides\r\n";
  return sdp;
}

TEST_F(LiveIngestTest, ParticipantsFromSdpAndFromTheStructAreRecordedWithTheirColoursAndTones) {
  make_call("live_ingest_two");
  const uint16_t ada_audio = ingest::test::free_port_pair(), ada_video = ingest::test::free_port_pair();
  const auto ada = ingest->add_participant("ada", sdp_for(ada_audio, ada_video), "Ada");
  ASSERT_TRUE(ada.status.ok()) << ada.status.message();
  ASSERT_EQ(ada.streams.size(), 2u);
  EXPECT_EQ(ada.streams[0].rtp_port, ada_audio);
  EXPECT_EQ(ada.streams[1].rtcp_port, ada_video + 1);

  RtpParticipantMedia bob_media{{{.codec = RtpCodec::kOpus, .payload_type = 111},
                                 {.codec = RtpCodec::kVp8, .payload_type = 96, .rtcp_mux = true}}};
  const auto bob = ingest->add_participant("bob", bob_media, "Bob");
  ASSERT_TRUE(bob.status.ok()) << bob.status.message();
  ASSERT_EQ(bob.streams.size(), 2u);
  EXPECT_NE(bob.streams[0].rtp_port, 0) << "port 0 binds a free port and the answer says which";
  EXPECT_EQ(bob.streams[1].rtcp_port, bob.streams[1].rtp_port) << "rtcp-mux";
  // The answer is SDP that callrec's own reader takes, with the bound ports.
  const auto answer = ingest::SdpDescription::parse(bob.answer_sdp);
  ASSERT_EQ(answer.streams.size(), 2u);
  EXPECT_EQ(answer.streams[0].rtp_port, bob.streams[0].rtp_port);
  EXPECT_TRUE(answer.streams[1].rtcp_mux);

  StreamSender ada_a{.audio = true, .fps = 50, .units = testing::opus_tone(440, 0.3, 3000), .port = ada_audio,
                     .stream = 0, .payload_type = 111};
  StreamSender ada_v{.audio = false, .fps = 10, .units = testing::video_colour(VideoCodec::kVp8, kRed, 10, 30, 30),
                     .port = ada_video, .stream = 1, .payload_type = 96, .ssrc = 0x5678};
  StreamSender bob_a{.audio = true, .fps = 50, .units = testing::opus_tone(1000, 0.3, 3000),
                     .port = bob.streams[0].rtp_port, .stream = 0, .payload_type = 111, .ssrc = 0x9abc};
  StreamSender bob_v{.audio = false, .fps = 10, .units = testing::video_colour(VideoCodec::kVp8, kBlue, 10, 30, 30),
                     .port = bob.streams[1].rtp_port, .stream = 1, .payload_type = 96, .ssrc = 0xdef0};
  ids = {{&ada_a, "ada"}, {&ada_v, "ada"}, {&bob_a, "bob"}, {&bob_v, "bob"}};
  run_until(3000, {&ada_a, &ada_v, &bob_a, &bob_v});

  const auto ada_stats = ingest->stats("ada");
  ASSERT_EQ(ada_stats.size(), 2u);
  EXPECT_EQ(ada_stats[0].units, 150);
  EXPECT_EQ(ada_stats[1].units, 30);
  EXPECT_EQ(ada_stats[0].pushes_refused, 0);
  EXPECT_EQ(ada_stats[1].pushes_refused, 0);
  EXPECT_TRUE(ingest->remove_participant("bob").ok());
  EXPECT_EQ(ingest->remove_participant("bob").code(), SessionErrc::kUnknownParticipant);

  auto r = call->finish({2500});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_TRUE(r.pictures.count(2500));
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(2500), 2, 0), kRed)) << "Ada's camera";
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(2500), 2, 1), kBlue)) << "Bob's camera";
  EXPECT_GT(tone_between(r.media.audio, 440, 1.0, 2.5), 0.05) << "Ada's voice";
  EXPECT_GT(tone_between(r.media.audio, 1000, 1.0, 2.5), 0.05) << "Bob's voice";
}

TEST_F(LiveIngestTest, ASlidesStreamIsTheParticipantsScreenShare) {
  make_call("live_ingest_screen");
  const uint16_t a = ingest::test::free_port_pair(), v = ingest::test::free_port_pair(),
                 s = ingest::test::free_port_pair();
  const auto ada = ingest->add_participant("ada", sdp_for(a, v, false, s));
  ASSERT_TRUE(ada.status.ok()) << ada.status.message();
  ASSERT_EQ(ada.streams.size(), 3u);
  EXPECT_TRUE(ada.streams[2].screen_share);
  EXPECT_NE(ada.answer_sdp.find("a=content:slides"), std::string::npos);

  StreamSender cam{.audio = false, .fps = 10, .units = testing::video_colour(VideoCodec::kVp8, kRed, 10, 30, 30),
                   .port = v, .stream = 1, .payload_type = 96, .ssrc = 0x1111};
  StreamSender screen{.audio = false, .fps = 10, .units = testing::video_colour(VideoCodec::kVp8, kGreen, 10, 20, 20),
                      .port = s, .stream = 2, .payload_type = 97, .ssrc = 0x2222, .start_ms = 1000};
  ids = {{&cam, "ada"}, {&screen, "ada"}};
  run_until(3000, {&cam, &screen});
  auto r = call->finish({500, 2500});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(500), 1, 0), kRed)) << "the camera alone before the share";
  // With a share, the screen takes the main area (the canvas's centre).
  EXPECT_TRUE(near(testing::pixel_at(*r.pictures.at(2500), 960, 540), kGreen)) << "the share in the main area";
  EXPECT_FALSE(near(testing::pixel_at(*r.pictures.at(500), 960, 540), kGreen));
}

TEST_F(LiveIngestTest, TheSessionsKeyframeWantedBecomesAPliToTheSender) {
  make_call("live_ingest_pli");
  const auto ada = ingest->add_participant(
      "ada", RtpParticipantMedia{{{.codec = RtpCodec::kVp8, .payload_type = 96, .rtcp_mux = true}}});
  ASSERT_TRUE(ada.status.ok()) << ada.status.message();
  StreamSender cam{.audio = false, .fps = 10, .units = testing::video_colour(VideoCodec::kVp8, kRed, 10, 10, 10),
                   .port = ada.streams[0].rtp_port, .stream = 0, .payload_type = 96, .ssrc = 0x4242};
  ids = {{&cam, "ada"}};
  run_until(1000, {&cam});
  const auto count_plis = [](const std::vector<std::vector<uint8_t>>& datagrams) {
    int plis = 0;
    for (const auto& d : datagrams)
      if (const auto c = ingest::RtcpCompound::parse(d))
        for (const auto& p : c->plis) plis += p.media_ssrc == 0x4242;
    return plis;
  };
  // The stream arrived whole from a key frame: nothing asks for one.
  EXPECT_EQ(count_plis(cam.socket->receive(std::chrono::milliseconds(100))), 0);
  SessionEvent wanted{SessionEventKind::kKeyframeWanted};
  wanted.participant_id = "ada";
  wanted.track = VideoTrack::kCamera;
  ingest->on_session_event(wanted);
  EXPECT_GE(count_plis(cam.socket->receive(std::chrono::milliseconds(500))), 1);
  EXPECT_GE(ingest->stats("ada")[0].plis_sent, 1);
  // Another participant's or track's event asks nothing of Ada's sender.
  wanted.track = VideoTrack::kScreen;
  ingest->on_session_event(wanted);
  wanted.participant_id = "bob";
  ingest->on_session_event(wanted);
  (void)call->finish({});
}

TEST_F(LiveIngestTest, BadDescriptionsAreRefusedWithWhatIsWrongAndNothingJoins) {
  make_call("live_ingest_bad");
  const uint16_t port = ingest::test::free_port_pair();
  const std::string vp9 = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=video " + std::to_string(port) +
                          " RTP/AVP 96\r\na=rtpmap:96 VP9/90000\r\n";
  auto bad = ingest->add_participant("ada", vp9);
  EXPECT_EQ(bad.status.code(), SessionErrc::kInvalidArgument);
  EXPECT_NE(bad.status.message().find("line 4 (a=rtpmap:96 VP9/90000)"), std::string::npos) << bad.status.message();
  EXPECT_TRUE(bad.streams.empty());

  bad = ingest->add_participant("ada", RtpParticipantMedia{{{.codec = RtpCodec::kVp8}, {.codec = RtpCodec::kH264}}});
  EXPECT_EQ(bad.status.code(), SessionErrc::kInvalidArgument);
  EXPECT_NE(bad.status.message().find("both camera streams"), std::string::npos) << bad.status.message();

  // A port already taken: the error names it, and the participant is not left joined.
  UdpSocket taken;
  const auto first = ingest->add_participant("bob", RtpParticipantMedia{{{.codec = RtpCodec::kOpus, .rtp_port = port}}});
  ASSERT_TRUE(first.status.ok()) << first.status.message();
  bad = ingest->add_participant("ada", RtpParticipantMedia{{{.codec = RtpCodec::kOpus, .rtp_port = port}}});
  EXPECT_EQ(bad.status.code(), SessionErrc::kInvalidArgument);
  EXPECT_NE(bad.status.message().find(std::to_string(port)), std::string::npos) << bad.status.message();
  EXPECT_EQ(ingest->add_participant("bob", RtpParticipantMedia{{{.codec = RtpCodec::kOpus}}}).status.code(),
            SessionErrc::kParticipantPresent);

  // None of the refusals joined Ada: she can join now.
  const auto ok = ingest->add_participant("ada", RtpParticipantMedia{{{.codec = RtpCodec::kOpus}}});
  EXPECT_TRUE(ok.status.ok()) << ok.status.message();
  (void)call->finish({});
}

TEST_F(LiveIngestTest, AnSsrcChangeMidCallContinuesTheVoiceWithoutAJumpOrAGap) {
  make_call("live_ingest_ssrc");
  const auto ada = ingest->add_participant("ada", RtpParticipantMedia{{{.codec = RtpCodec::kOpus, .payload_type = 111}}});
  ASSERT_TRUE(ada.status.ok());
  StreamSender voice{.audio = true, .fps = 50, .units = testing::opus_tone(440, 0.3, 4000),
                     .port = ada.streams[0].rtp_port, .stream = 0, .payload_type = 111};
  ids = {{&voice, "ada"}};
  // At 2 s the sender restarts: new SSRC, new sequence numbers, a timestamp base far away.
  run_until(4000, {&voice}, [&](int64_t ms) {
    if (ms == 2000) voice.switch_ssrc(0xfeed, 0x80000000u);
  });
  const auto st = ingest->stats("ada");
  EXPECT_EQ(st[0].segments, 2);
  EXPECT_EQ(st[0].pushes_refused, 0);
  auto r = call->finish({});
  ASSERT_TRUE(r.status.ok());
  // The tone goes on through the change (100 ms windows), and the recording is not longer
  // than the call (a jump would have placed the second half elsewhere).
  for (double t = 0.5; t < 3.7; t += 0.1) EXPECT_GT(tone_between(r.media.audio, 440, t, t + 0.1), 0.05) << "at " << t << " s";
  EXPECT_NEAR(r.media.info.duration_s, 4.0, 0.5);
}

}  // namespace
}  // namespace callrec
