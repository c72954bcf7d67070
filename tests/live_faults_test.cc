// Fault isolation of a live session, in virtual time: whatever one participant (Eve)
// pushes, the others' sound and picture are in the file. Ada sends Opus and a red VP8
// camera over RTP; Bob sends 16-bit PCM and green pictures; Eve sends one kind of
// fault per test. Media wrong on its face is refused at the push with a message saying
// what is wrong; media that fails later is dropped, counted and listed (with its call
// time) in the chunk's mediaProblems. Only the output ends a recording.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <random>

#include "callrec/core/error.h"
#include "callrec/session.h"
#include "live_call.h"

extern "C" {
#include <libavutil/buffer.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/pixfmt.h>
#include <libavutil/samplefmt.h>
}

namespace callrec::testing {
namespace {

constexpr double kAdaHz = 440, kBobHz = 660, kEveHz = 1000;
constexpr double kAmplitude = 0.2;
constexpr int64_t kCallMs = 3000;

const Packets& ada_opus() {
  static const Packets p = opus_tone(kAdaHz, kAmplitude, kCallMs);
  return p;
}
const Packets& ada_vp8() {
  static const Packets p = video_colour(VideoCodec::kVp8, kRed, 15, 45, 15);
  return p;
}

using EveTick = std::function<void(Session&, int64_t call_ms)>;

class LiveFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { av_log_set_level(AV_LOG_QUIET); }

  // Runs the three-party call with Eve doing `eve` every 20 ms tick.
  VirtualCall::Recording record(const std::string& name, const EveTick& eve) {
    VirtualCall call(name);
    Session& s = call.session();
    EXPECT_TRUE(s.join("8:acs:ada", "Ada Lovelace"));
    EXPECT_TRUE(s.join("8:acs:bob", "Bob"));
    EXPECT_TRUE(s.join("8:acs:eve", "Eve"));
    EXPECT_TRUE(s.start("op-start").status);
    RtpSender ada_audio = RtpSender::opus(s, "8:acs:ada", ada_opus(), 0, 0x12345678);
    RtpSender ada_video = RtpSender::video(s, "8:acs:ada", VideoCodec::kVp8, ada_vp8(), 15, 0, 0xFFFF0000u);
    const av::FramePtr green = picture(320, 180, kGreen);
    call.run_until(kCallMs, {[&](int64_t t) { ada_audio.tick(t); },
                             [&](int64_t t) { ada_video.tick(t); },
                             [&](int64_t t) {
                               const std::vector<int16_t> pcm = bob_pcm(t);
                               EXPECT_TRUE(s.push_pcm("8:acs:bob", pcm, 16000, 1, MediaTime::from_ms(t)));
                               if (t % 100 == 0) {
                                 EXPECT_TRUE(s.push_video_frame("8:acs:bob", *green, MediaTime::from_ms(t)));
                               }
                             },
                             [&](int64_t t) { eve(s, t); }});
    stats_ = s.stats();
    keyframe_requests_ = 0;
    VirtualCall::Recording r = call.finish({2000});
    for (const SessionEvent& e : call.events()) {
      EXPECT_NE(e.kind, SessionEventKind::kError) << e.message;
      if (e.kind == SessionEventKind::kKeyframeWanted && e.participant_id == "8:acs:eve") ++keyframe_requests_;
    }
    EXPECT_EQ(ada_audio.refused() + ada_video.refused(), 0);
    return r;
  }

  static std::vector<int16_t> bob_pcm(int64_t t_ms) {
    std::vector<int16_t> block(320);
    for (int i = 0; i < 320; ++i) {
      block[i] = int16_t(kAmplitude * 32767 * std::sin(2 * M_PI * kBobHz * double(t_ms * 16 + i) / 16000));
    }
    return block;
  }

  // Ada's and Bob's sound and picture are in the file, and it ended as it should.
  static void expect_others_recorded(const VirtualCall::Recording& r) {
    ASSERT_TRUE(r.status) << r.status.message();
    ASSERT_FALSE(r.notification.is_null()) << "no recording.json";
    EXPECT_EQ(r.notification["data"]["sessionEndReason"], "RecordingStopped");
    ASSERT_EQ(r.chunks.size(), 1u);
    EXPECT_EQ(r.chunks[0]["participants"].size(), 3u);
    EXPECT_GT(tone_between(r.media.audio, kAdaHz, 0.5, 2.8), 0.12) << "Ada is heard";
    EXPECT_GT(tone_between(r.media.audio, kBobHz, 0.5, 2.8), 0.12) << "Bob is heard";
    ASSERT_TRUE(r.pictures.count(2000));
    const AVFrame& canvas = *r.pictures.at(2000);
    EXPECT_TRUE(near(tile_colour(canvas, 3, 0), kRed)) << "Ada's camera";
    EXPECT_TRUE(near(tile_colour(canvas, 3, 1), kGreen)) << "Bob's camera";
  }

  static bool any_line(const std::vector<std::string>& lines, const std::string& a, const std::string& b) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(a) != std::string::npos && l.find(b) != std::string::npos;
    });
  }

  SessionStats stats_;
  int keyframe_requests_ = 0;
};

// Channel counts without a standard layout (9, 32, 63, 64) once failed on the output
// thread and ended everyone's recording. They are mixed now (every channel at the same
// weight); beyond libswresample's 64 they are refused at the push.
TEST_F(LiveFaultTest, AudioOfAnyChannelCountIsMixedOrRefusedAtThePush) {
  std::vector<Status> refused;
  int64_t sample = 0;
  const auto r = record("fault_channels", [&](Session& s, int64_t t) {
    const int channels = t < 700 ? 9 : t < 1400 ? 32 : t < 2100 ? 63 : 64;
    const av::FramePtr f = tone_frame(48000, channels, AV_SAMPLE_FMT_FLTP, 960, sample, kEveHz, kAmplitude);
    EXPECT_TRUE(s.push_audio_frame("8:acs:eve", *f, MediaTime::from_ms(t))) << channels << " channels";
    sample += 960;
    if (t == 1000) {
      for (const int n : {65, 128}) {
        const av::FramePtr wide = tone_frame(48000, n, AV_SAMPLE_FMT_FLTP, 960, 0, kEveHz, kAmplitude);
        refused.push_back(s.push_audio_frame("8:acs:eve", *wide, MediaTime::from_ms(t)));
      }
    }
  });
  expect_others_recorded(r);
  EXPECT_GT(tone_between(r.media.audio, kEveHz, 0.5, 2.8), 0.12) << "Eve's 9-64 channels are heard";
  ASSERT_EQ(refused.size(), 2u);
  for (const Status& s : refused) {
    EXPECT_EQ(s.code(), SessionErrc::kInvalidArgument);
    EXPECT_NE(s.message().find("channels is out of range (1 to 64)"), std::string::npos) << s.message();
  }
  EXPECT_EQ(stats_.media_refused, 2);
}

TEST_F(LiveFaultTest, AudioFramesOutOfRangeAreRefusedAtThePushWithAReason) {
  std::vector<std::pair<Status, std::string>> refused;
  int64_t sample = 0;
  const auto r = record("fault_audio_range", [&](Session& s, int64_t t) {
    // Eve's own audio, in an unusual but valid shape: 11025 Hz, 32-bit, 3 channels.
    const av::FramePtr good = tone_frame(11025, 3, AV_SAMPLE_FMT_S32, 220, sample, kEveHz, kAmplitude);
    EXPECT_TRUE(s.push_audio_frame("8:acs:eve", *good, MediaTime::from_us(sample * 1'000'000 / 11025)));
    sample += 220;
    if (t != 500) return;
    const auto bad = [&](const std::string& expected, const std::function<void(AVFrame&)>& spoil) {
      av::FramePtr f = tone_frame(48000, 2, AV_SAMPLE_FMT_S16P, 960, 0, kEveHz, kAmplitude);
      spoil(*f);
      refused.emplace_back(s.push_audio_frame("8:acs:eve", *f, MediaTime::from_ms(t)), expected);
    };
    bad("sample rate 0 Hz", [](AVFrame& f) { f.sample_rate = 0; });
    bad("sample rate 999 Hz", [](AVFrame& f) { f.sample_rate = 999; });
    bad("sample rate 2147483647 Hz", [](AVFrame& f) { f.sample_rate = INT_MAX; });
    bad("sample format -1", [](AVFrame& f) { f.format = -1; });
    bad("sample format 99", [](AVFrame& f) { f.format = 99; });
    bad("no samples", [](AVFrame& f) { f.nb_samples = 0; });
    bad("shorter than its", [](AVFrame& f) { f.nb_samples = 96000; });  // 2 s claimed in a 20 ms buffer
    bad("longer than 2000 ms", [](AVFrame& f) { f.nb_samples = 200000; });
    bad("no data for plane 1", [](AVFrame& f) { f.extended_data[1] = nullptr; });
    bad("0 channels", [](AVFrame& f) { av_channel_layout_uninit(&f.ch_layout); });
  });
  expect_others_recorded(r);
  EXPECT_GT(tone_between(r.media.audio, kEveHz, 0.5, 2.8), 0.12) << "Eve's valid audio is heard";
  ASSERT_EQ(refused.size(), 10u);
  for (const auto& [status, expected] : refused) {
    EXPECT_EQ(status.code(), SessionErrc::kInvalidArgument) << expected;
    EXPECT_NE(status.message().find(expected), std::string::npos) << status.message();
  }
  EXPECT_EQ(stats_.media_refused, 10);
}

// A hardware surface (VAAPI, CUDA) was accepted and then refused by the compositor on
// the output thread, ending everyone's recording. It is refused at the push; Eve's
// pictures in memory, in other pixel formats, are shown.
TEST_F(LiveFaultTest, HardwareSurfacesAreRefusedAtThePush) {
  std::vector<Status> refused;
  const auto r = record("fault_hw_surface", [&](Session& s, int64_t t) {
    if (t % 100 != 0) return;
    for (const AVPixelFormat hw : {AV_PIX_FMT_VAAPI, AV_PIX_FMT_CUDA, AV_PIX_FMT_VDPAU}) {
      av::FramePtr surface = av::make_frame();
      surface->format = hw;
      surface->width = 320;
      surface->height = 180;
      surface->buf[0] = av_buffer_alloc(64);
      surface->data[3] = surface->buf[0]->data;  // where a VASurfaceID would be
      refused.push_back(s.push_video_frame("8:acs:eve", *surface, MediaTime::from_ms(t)));
    }
    if (t >= 1000) {
      // The same picture in memory, as av_hwframe_transfer_data gives it (NV12).
      av::FramePtr nv12 = av::make_frame();
      nv12->format = AV_PIX_FMT_NV12;
      nv12->width = 320;
      nv12->height = 180;
      check_av(av_frame_get_buffer(nv12.get(), 0), "nv12");
      for (int y = 0; y < 180; ++y) std::fill_n(nv12->data[0] + y * nv12->linesize[0], 320, uint8_t(kBlue.y));
      for (int y = 0; y < 90; ++y) {
        for (int x = 0; x < 160; ++x) {
          nv12->data[1][y * nv12->linesize[1] + 2 * x] = uint8_t(kBlue.u);
          nv12->data[1][y * nv12->linesize[1] + 2 * x + 1] = uint8_t(kBlue.v);
        }
      }
      EXPECT_TRUE(s.push_video_frame("8:acs:eve", *nv12, MediaTime::from_ms(t)));
    }
  });
  expect_others_recorded(r);
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(2000), 3, 2), kBlue)) << "Eve's NV12 pictures are shown";
  ASSERT_EQ(refused.size(), 90u);
  for (const Status& s : refused) {
    EXPECT_EQ(s.code(), SessionErrc::kInvalidArgument);
    EXPECT_NE(s.message().find("hardware surface"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("av_hwframe_transfer_data"), std::string::npos) << s.message();
  }
  EXPECT_NE(refused[0].message().find("(vaapi)"), std::string::npos) << refused[0].message();
}

TEST_F(LiveFaultTest, PicturesOfAbsurdSizeOrFormatAreRefusedAtThePush) {
  std::vector<std::pair<Status, std::string>> refused;
  const auto r = record("fault_picture_shape", [&](Session& s, int64_t t) {
    if (t % 100 != 0) return;
    // Valid but unusual: RGB24 at an odd size, shown in Eve's tile.
    av::FramePtr rgb = av::make_frame();
    rgb->format = AV_PIX_FMT_RGB24;
    rgb->width = 317;
    rgb->height = 179;
    check_av(av_frame_get_buffer(rgb.get(), 0), "rgb");
    for (int y = 0; y < 179; ++y) {
      for (int x = 0; x < 317; ++x) {
        uint8_t* p = rgb->data[0] + y * rgb->linesize[0] + 3 * x;
        p[0] = 20, p[1] = 20, p[2] = 230;  // blue
      }
    }
    EXPECT_TRUE(s.push_video_frame("8:acs:eve", *rgb, MediaTime::from_ms(t)));
    if (t != 1000) return;
    const auto bad = [&](const std::string& expected, const std::function<void(AVFrame&)>& spoil) {
      av::FramePtr f = picture(64, 36, kBlue);
      spoil(*f);
      refused.emplace_back(s.push_video_frame("8:acs:eve", *f, MediaTime::from_ms(t)), expected);
    };
    bad("has no size", [](AVFrame& f) { f.width = 0; });
    bad("has no size", [](AVFrame& f) { f.height = -36; });
    bad("exceeds the 8192x8192", [](AVFrame& f) { f.width = 100000; });
    bad("exceeds the 8192x8192", [](AVFrame& f) { f.width = 8200; });
    bad("is not a pixel format", [](AVFrame& f) { f.format = 9999; });
    bad("is not a pixel format", [](AVFrame& f) { f.format = -1; });
    bad("no data in plane 2", [](AVFrame& f) { f.data[2] = nullptr; });
    bad("rows shorter than its width", [](AVFrame& f) { f.linesize[0] = 8; });
    bad("pixel format nv16 cannot be converted", [](AVFrame& f) { f.format = AV_PIX_FMT_NV16; });
  });
  expect_others_recorded(r);
  const Yuv eve = tile_colour(*r.pictures.at(2000), 3, 2);
  EXPECT_GT(eve.u, 180) << "Eve's RGB24 pictures are shown (blue)";
  ASSERT_EQ(refused.size(), 9u);
  for (const auto& [status, expected] : refused) {
    EXPECT_EQ(status.code(), SessionErrc::kInvalidArgument) << expected;
    EXPECT_NE(status.message().find(expected), std::string::npos) << status.message();
  }
}

// Timestamps far from the call's clock: media placed seconds ahead once waited in the
// queue until it filled, and then every push was refused. It is dropped and counted,
// however much comes, and the participant's media in time is still recorded.
TEST_F(LiveFaultTest, TimestampsFarFromTheClockAreDroppedAndCountedNeverQueued) {
  int dropped = 0, invalid = 0;
  int64_t sample = 0;
  const auto r = record("fault_timestamps", [&](Session& s, int64_t t) {
    std::vector<int16_t> pcm(320);
    for (int i = 0; i < 320; ++i) pcm[i] = int16_t(kAmplitude * 32767 * std::sin(2 * M_PI * kEveHz * double(sample + i) / 16000));
    sample += 320;
    EXPECT_TRUE(s.push_pcm("8:acs:eve", pcm, 16000, 1, MediaTime::from_ms(t)));
    if (t < 1000) {
      for (int k = 0; k < 50; ++k) {  // 2500 pushes, ten queues' worth
        const Status ahead = s.push_pcm("8:acs:eve", pcm, 16000, 1, MediaTime::from_ms(t + 5000 + k));
        dropped += ahead.code() == SessionErrc::kDroppedTimestamp;
      }
    }
    if (t == 1500) {
      dropped += s.push_pcm("8:acs:eve", pcm, 16000, 1, MediaTime::from_ms(t - 30'000)).code() ==
                 SessionErrc::kDroppedTimestamp;
      for (const MediaTime bad : {MediaTime(5, Rational{1, 0}), MediaTime(5, Rational{0, 1}),
                                  MediaTime(5, Rational{-1, 1000}), MediaTime(INT64_MAX, kMicroseconds),
                                  MediaTime(INT64_MIN, Rational{1, 1}), MediaTime(INT64_MAX / 2, Rational{1000, 1})}) {
        const Status st = s.push_pcm("8:acs:eve", pcm, 16000, 1, bad);
        invalid += st.code() == SessionErrc::kInvalidArgument;
        EXPECT_NE(st.message().find("timestamp"), std::string::npos) << st.message();
      }
      const av::FramePtr far = picture(64, 36, kBlue);
      dropped += s.push_video_frame("8:acs:eve", *far, MediaTime::from_ms(t + 3600'000)).code() ==
                 SessionErrc::kDroppedTimestamp;
    }
  });
  expect_others_recorded(r);
  EXPECT_GT(tone_between(r.media.audio, kEveHz, 0.5, 2.8), 0.12) << "Eve's media in time is recorded";
  EXPECT_EQ(dropped, 2502);
  EXPECT_EQ(invalid, 6);
  EXPECT_EQ(stats_.media_dropped_timestamp, 2502);
  EXPECT_EQ(stats_.media_dropped_queue_full, 0) << "the far-ahead media never waited in the queue";
  const nlohmann::json eve = participant_stats(r.chunks[0], "8:acs:eve");
  EXPECT_EQ(eve["mediaDroppedTimestamp"], 2502);
  const std::vector<std::string> lines = media_problems(r.chunks);
  EXPECT_TRUE(any_line(lines, "\"8:acs:eve\" at 0.000 s", "ahead of the call's clock (2501 times")) << nlohmann::json(lines);
  EXPECT_TRUE(any_line(lines, "\"8:acs:eve\" at 1.500 s", "behind the call's clock")) << nlohmann::json(lines);
}

Packets garbage(unsigned seed, int count, bool looks_like_keyframe, VideoCodec codec) {
  std::mt19937 rng(seed);
  Packets out;
  for (int i = 0; i < count; ++i) {
    std::vector<uint8_t> p(200 + rng() % 800);
    for (uint8_t& b : p) b = static_cast<uint8_t>(rng());
    if (looks_like_keyframe && codec == VideoCodec::kVp8) {
      p[0] &= 0xfe;
      p[3] = 0x9d, p[4] = 0x01, p[5] = 0x2a;
      p[6] = 0x40, p[7] = 0x01, p[8] = 0xb4, p[9] = 0x00;  // 320x180
    }
    if (looks_like_keyframe && codec == VideoCodec::kH264) {
      p[0] = 0, p[1] = 0, p[2] = 1, p[3] = 0x65;  // an IDR slice, of garbage
    }
    out.push_back(std::move(p));
  }
  return out;
}

// Encoded video the decoder cannot use: garbage, garbage dressed as keyframes, a stream
// that starts without a keyframe. Each frame is dropped, counted and listed with its
// time; the session asks for a keyframe; once Eve's sender sends a good stream, her
// picture is back.
TEST_F(LiveFaultTest, UndecodableVideoIsDroppedCountedListedAndAKeyframeAsked) {
  const Packets vp8_garbage = garbage(7, 15, false, VideoCodec::kVp8);
  const Packets vp8_fake_keys = garbage(8, 15, true, VideoCodec::kVp8);
  const Packets h264_fake_keys = garbage(9, 15, true, VideoCodec::kH264);
  const Packets blue = video_colour(VideoCodec::kVp8, kBlue, 15, 45, 15);
  int fed = 0;
  const auto r = record("fault_undecodable", [&](Session& s, int64_t t) {
    if (t % 60 != 0) return;  // ~15 fps
    const auto rtp = static_cast<uint32_t>(90 * t);
    const Packets* source = t < 300 ? &vp8_garbage : t < 600 ? &vp8_fake_keys : t < 900 ? &h264_fake_keys : &blue;
    const VideoCodec codec = source == &h264_fake_keys ? VideoCodec::kH264 : VideoCodec::kVp8;
    const size_t k = source == &blue ? static_cast<size_t>((t - 900) / 60) : static_cast<size_t>(fed % 15);
    EXPECT_TRUE(s.push_video_packet("8:acs:eve", codec, (*source)[k], rtp));
    ++fed;
  });
  expect_others_recorded(r);
  EXPECT_TRUE(near(tile_colour(*r.pictures.at(2000), 3, 2), kBlue)) << "Eve's good stream is shown";
  const nlohmann::json eve = participant_stats(r.chunks[0], "8:acs:eve");
  EXPECT_GT(eve["videoDecodeErrors"].get<int64_t>(), 0) << eve.dump();
  EXPECT_GT(keyframe_requests_, 0);
  EXPECT_EQ(eve["keyframesWanted"], keyframe_requests_);
  const std::vector<std::string> lines = media_problems(r.chunks);
  EXPECT_TRUE(any_line(lines, "\"8:acs:eve\" at 0.000 s", "VP8 frame dropped: waiting for a keyframe"))
      << nlohmann::json(lines);
  EXPECT_TRUE(any_line(lines, "\"8:acs:eve\" at 0.3", "VP8 frame could not be decoded")) << nlohmann::json(lines);
  EXPECT_TRUE(any_line(lines, "\"8:acs:eve\" at 0.6", "H.264 frame could not be decoded")) << nlohmann::json(lines);
}

// Garbage in Opus packets is concealed by libopus and counted; the others are unharmed.
TEST_F(LiveFaultTest, GarbageOpusIsConcealedAndCounted) {
  std::mt19937 rng(3);
  const auto r = record("fault_opus_garbage", [&](Session& s, int64_t t) {
    std::vector<uint8_t> p(1 + rng() % 400);
    for (uint8_t& b : p) b = static_cast<uint8_t>(rng());
    EXPECT_TRUE(s.push_opus("8:acs:eve", p, static_cast<uint32_t>(t * 48)));
    EXPECT_TRUE(s.push_opus("8:acs:eve", std::vector<uint8_t>{}, static_cast<uint32_t>(t * 48 + 480)));
  });
  expect_others_recorded(r);
  const nlohmann::json eve = participant_stats(r.chunks[0], "8:acs:eve");
  EXPECT_GT(eve["opusPacketsCorrupt"].get<int64_t>(), 0) << eve.dump();
}

// Encoded frames of absurd size or with no bytes, unknown codecs and tracks.
TEST_F(LiveFaultTest, EncodedFramesWrongOnTheirFaceAreRefusedAtThePush) {
  std::vector<std::pair<Status, std::string>> refused;
  const auto r = record("fault_packet_shape", [&](Session& s, int64_t t) {
    if (t != 1000) return;
    const std::vector<uint8_t> one(16, 0);
    refused.emplace_back(s.push_video_packet("8:acs:eve", VideoCodec::kVp8, std::span<const uint8_t>(), 0u),
                         "empty packet");
    refused.emplace_back(s.push_video_packet("8:acs:eve", static_cast<VideoCodec>(7), one, 0u), "no such codec");
    refused.emplace_back(
        s.push_video_packet("8:acs:eve", VideoCodec::kVp8, one, 0u, static_cast<VideoTrack>(3)), "no such track");
    const std::vector<uint8_t> huge(33u << 20, 0);
    refused.emplace_back(s.push_video_packet("8:acs:eve", VideoCodec::kH264, huge, 0u), "is larger than");
    const std::vector<uint8_t> big_opus(70000, 1);
    refused.emplace_back(s.push_opus("8:acs:eve", big_opus, 0u), "is larger than 65536");
    refused.emplace_back(s.push_opus("8:acs:eve", one, 0u, 200), "audio level 200");
  });
  expect_others_recorded(r);
  ASSERT_EQ(refused.size(), 6u);
  for (const auto& [status, expected] : refused) {
    EXPECT_EQ(status.code(), SessionErrc::kInvalidArgument) << expected;
    EXPECT_NE(status.message().find(expected), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace callrec::testing
