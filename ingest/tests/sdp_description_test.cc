#include "callrec/ingest/sdp_description.h"

#include <gtest/gtest.h>

#include "callrec/core/error.h"

namespace callrec::ingest {
namespace {

// What `ffmpeg -i ... -map 0:a -c:a libopus -f rtp rtp://127.0.0.1:5002 -map 0:v -c:v
// libvpx -f rtp rtp://127.0.0.1:5004 -sdp_file x.sdp` writes.
constexpr const char* kFfmpegOpusVp8 =
    "v=0\r\n"
    "o=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=No Name\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "a=tool:libavformat 59.27.100\r\n"
    "m=audio 5002 RTP/AVP 97\r\n"
    "b=AS:64\r\n"
    "a=rtpmap:97 opus/48000/2\r\n"
    "a=fmtp:97 sprop-stereo=0\r\n"
    "m=video 5004 RTP/AVP 96\r\n"
    "b=AS:200\r\n"
    "a=rtpmap:96 VP8/90000\r\n";

TEST(SdpDescriptionTest, ReadsWhatFfmpegWrites) {
  const ParticipantMedia m = SdpDescription::parse(kFfmpegOpusVp8);
  ASSERT_EQ(m.streams.size(), 2u);
  const auto& a = m.streams[0];
  EXPECT_EQ(a.kind, MediaKind::kAudio);
  EXPECT_EQ(a.address, "127.0.0.1");
  EXPECT_EQ(a.rtp_port, 5002);
  EXPECT_EQ(a.rtcp_listen_port(), 5003);
  ASSERT_EQ(a.formats.size(), 1u);
  EXPECT_EQ(a.formats[0].codec, Codec::kOpus);
  EXPECT_EQ(a.formats[0].payload_type, 97);
  EXPECT_EQ(a.formats[0].channels, 2);
  const auto& v = m.streams[1];
  EXPECT_EQ(v.kind, MediaKind::kVideo);
  EXPECT_EQ(v.rtp_port, 5004);
  EXPECT_EQ(v.formats.at(0).codec, Codec::kVp8);
  EXPECT_EQ(v.formats.at(0).clock_rate_hz, 90000);
}

TEST(SdpDescriptionTest, ReadsH264ParameterSetsRtcpMuxExtmapAndIpv6) {
  const ParticipantMedia m = SdpDescription::parse(
      "v=0\n"
      "o=- 0 0 IN IP6 ::1\n"
      "s=-\n"
      "t=0 0\n"
      "m=audio 6000 RTP/AVPF 111\n"
      "c=IN IP6 ::1\n"
      "a=rtpmap:111 OPUS/48000/2\n"
      "a=rtcp-mux\n"
      "a=extmap:1/recvonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\n"
      "m=video 6002 RTP/AVP 102 96\n"
      "c=IN IP4 127.0.0.1\n"
      "a=rtcp:7000 IN IP4 127.0.0.1\n"
      "a=rtpmap:102 H264/90000\n"
      "a=fmtp:102 packetization-mode=1; sprop-parameter-sets=Z0LAHtkA,aMuDyyA=; profile-level-id=42C01E\n"
      "a=rtpmap:96 VP8/90000\n"
      "a=content:slides\n");
  ASSERT_EQ(m.streams.size(), 2u);
  EXPECT_EQ(m.streams[0].address, "::1");
  EXPECT_TRUE(m.streams[0].rtcp_mux);
  EXPECT_EQ(m.streams[0].rtcp_listen_port(), 6000);
  EXPECT_EQ(m.streams[0].audio_level_extension_id, 1);
  const auto& v = m.streams[1];
  EXPECT_EQ(v.rtcp_listen_port(), 7000);
  EXPECT_TRUE(v.screen_share);
  ASSERT_EQ(v.formats.size(), 2u);
  EXPECT_EQ(v.formats[0].codec, Codec::kH264);
  EXPECT_EQ(v.formats[0].packetization_mode, 1);
  ASSERT_EQ(v.formats[0].parameter_sets.size(), 2u);
  EXPECT_EQ(v.formats[0].parameter_sets[0], (std::vector<uint8_t>{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00}));
  EXPECT_EQ(v.formats[0].parameter_sets[1][0], 0x68);
  EXPECT_EQ(v.formats[1].codec, Codec::kVp8);
  ASSERT_NE(v.format(96), nullptr);
  EXPECT_EQ(v.format(97), nullptr);
}

TEST(SdpDescriptionTest, IgnoresOtherMediaAndDisabledStreams) {
  const ParticipantMedia m = SdpDescription::parse(
      "v=0\nc=IN IP4 127.0.0.1\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
      "m=video 0 RTP/AVP 96\na=rtpmap:96 VP9/90000\nm=audio 5000 RTP/AVP 111\na=rtpmap:111 opus/48000/2\n");
  ASSERT_EQ(m.streams.size(), 1u);
  EXPECT_EQ(m.streams[0].rtp_port, 5000);
}

TEST(SdpDescriptionTest, EveryBadSdpGetsOneLineSayingWhatIsWrong) {
  const std::string head = "v=0\nc=IN IP4 127.0.0.1\n";
  struct Case {
    std::string sdp;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "empty SDP"},
      {"o=- 0 0 IN IP4 1.2.3.4\n", "line 1 (o=- 0 0 IN IP4 1.2.3.4): an SDP starts with \"v=0\""},
      {"v=0\nhello\n", "line 2 (hello): not an SDP line"},
      {head, "no m=audio or m=video line"},
      {"v=0\nm=audio 5000 RTP/AVP 111\na=rtpmap:111 opus/48000/2\n", "line 2 (m=audio 5000 RTP/AVP 111): no c= line"},
      {"v=0\nc=IN IP4 300.1.1.1\n", "\"300.1.1.1\" is not an IPv4 address"},
      {"v=0\nc=IN IP4 239.1.1.1/127\n", "multicast address 239.1.1.1 is not supported"},
      {head + "m=audio 70000 RTP/AVP 111\n", "port \"70000\" is not a number 0-65535"},
      {head + "m=audio 5000 RTP/SAVP 111\n", "encrypted media (RTP/SAVP) is not supported"},
      // The transport is quoted like any text from the offer: cut at 80 characters,
      // control bytes as '?' (a fuzzer's 300-byte transport made a 500-byte message).
      {head + "m=audio 5000 RTP/" + std::string(300, 'S') + "\x01SAVPF 111\n",
       "encrypted media (RTP/" + std::string(76, 'S') + "...) is not supported"},
      {head + "m=audio 5000 RTP/AVP 0\n", "payload type 0 has no a=rtpmap"},
      {head + "m=audio 5000 RTP/AVP 111\na=rtpmap:111 PCMU/8000\n", "codec PCMU is not supported (Opus, VP8, H264)"},
      {head + "m=audio 5000 RTP/AVP 111\na=rtpmap:111 opus/44100/2\n", "Opus has a 48000 Hz RTP clock"},
      {head + "m=audio 5000 RTP/AVP 96\na=rtpmap:96 VP8/90000\n", "VP8 in an m=audio line"},
      {head + "m=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=2\n",
       "packetization-mode=2 (interleaved) is not supported"},
      {head + "m=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 sprop-parameter-sets=!!!!\n",
       "sprop-parameter-sets: \"!!!!\" is not base64"},
      {head + "m=audio 5000 RTP/AVP 111\na=rtpmap:111 opus/48000/2\nm=video 5001 RTP/AVP 96\na=rtpmap:96 VP8/90000\n",
       "port 5001 is used twice"},
      {head + "m=audio 5000 RTP/AVP 72\na=rtpmap:72 opus/48000/2\n", "collides with RTCP packet types"},
      {head + "m=audio 5000 RTP/AVP 111\na=rtcp:0\n", "expected \"a=rtcp:<port 1-65535>\""},
      {head + "m=audio 5000 RTP/AVP 111\na=extmap:15 urn:x\n", "expected \"a=extmap:<id 1-14 or 16-255> <uri>\""},
      {std::string(70000, 'x'), "the SDP is 70000 bytes; at most 65536 are read"},
  };
  for (const Case& c : cases) {
    try {
      SdpDescription::parse(c.sdp);
      ADD_FAILURE() << "accepted: " << c.sdp;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(c.message), std::string::npos) << what << "\n  expected: " << c.message;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      EXPECT_LE(what.size(), 400u) << what;
    }
  }
}

}  // namespace
}  // namespace callrec::ingest
