// Soak test (label "long"): the embedding API on the real clock, with its own output
// thread, while three participants push media from their own threads for about 20 s
// of wall time — Opus packets with RTP timestamps (wrapping around 2^32), VP8 and
// H.264 packets, 16-bit PCM — with network jitter (reordering), packet loss and a
// pause; the recording is decoded back and checked like the offline outputs.
//
// What it checks exactly is checked in virtual time, deterministically, by
// tests/live_timing_test.cc and tests/live_faults_test.cc; this one keeps the real
// threads and the real clock honest (sleeps, wake-ups, concurrent pushes), so its
// bounds are loose and it may need an unloaded machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "callrec/compositor/tile_layout.h"
#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/session.h"
#include "decoded_media.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

namespace callrec::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr double kPauseToneHz = 1200;

// A libavcodec encoder producing the packets a WebRTC backend would receive.
class PacketEncoder {
 public:
  PacketEncoder(const char* name, bool video) {
    const AVCodec* codec = avcodec_find_encoder_by_name(name);
    if (!codec) throw Error(std::string("no encoder ") + name);
    ctx_.reset(avcodec_alloc_context3(codec));
    if (video) {
      ctx_->width = 320;
      ctx_->height = 180;
      ctx_->pix_fmt = AV_PIX_FMT_YUV420P;
      ctx_->time_base = {1, 15};
      ctx_->framerate = {15, 1};
      ctx_->gop_size = 15;
      ctx_->max_b_frames = 0;
      ctx_->bit_rate = 300'000;
      if (std::string(name) == "libx264") av_opt_set(ctx_->priv_data, "tune", "zerolatency", 0);
      if (std::string(name) == "libvpx") av_opt_set(ctx_->priv_data, "deadline", "realtime", 0);
    } else {
      ctx_->sample_rate = 48000;
      ctx_->sample_fmt = AV_SAMPLE_FMT_S16;
      av_channel_layout_default(&ctx_->ch_layout, 1);
      ctx_->bit_rate = 32000;
      ctx_->time_base = {1, 48000};
    }
    ctx_->thread_count = 1;
    check_av(avcodec_open2(ctx_.get(), codec, nullptr), std::string("opening ") + name);
    frame_ = av::make_frame();
    packet_ = av::make_packet();
  }

  // Encodes one frame; calls `out` with each packet produced.
  template <typename Fill, typename Out>
  void encode(int64_t pts, const Fill& fill, const Out& out) {
    AVFrame* f = frame_.get();
    av_frame_unref(f);
    if (ctx_->width) {
      f->format = ctx_->pix_fmt;
      f->width = ctx_->width;
      f->height = ctx_->height;
    } else {
      f->format = ctx_->sample_fmt;
      f->sample_rate = 48000;
      f->nb_samples = ctx_->frame_size;
      av_channel_layout_default(&f->ch_layout, 1);
    }
    check_av(av_frame_get_buffer(f, 0), "frame buffer");
    fill(*f);
    f->pts = pts;
    check_av(avcodec_send_frame(ctx_.get(), f), "encoding");
    while (avcodec_receive_packet(ctx_.get(), packet_.get()) == 0) {
      out(std::span<const uint8_t>(packet_->data, packet_->size));
      av_packet_unref(packet_.get());
    }
  }
  int frame_size() const { return ctx_->frame_size; }

 private:
  av::CodecContextPtr ctx_;
  av::FramePtr frame_;
  av::PacketPtr packet_;
};

void fill_colour(AVFrame& f, int y, int u, int v) {
  for (int row = 0; row < f.height; ++row) std::fill_n(f.data[0] + row * f.linesize[0], f.width, uint8_t(y));
  for (int row = 0; row < f.height / 2; ++row) {
    std::fill_n(f.data[1] + row * f.linesize[1], f.width / 2, uint8_t(u));
    std::fill_n(f.data[2] + row * f.linesize[2], f.width / 2, uint8_t(v));
  }
}

// Delivers packets after a random network delay (0-`max_ms`), so they arrive out of
// order; runs on the sending thread.
class JitterLink {
 public:
  JitterLink(unsigned seed, int max_ms) : rng_(seed), delay_(0, max_ms) {}
  template <typename Send>
  void send(std::vector<uint8_t> packet, uint32_t ts, const Send& deliver) {
    queue_.push_back({Clock::now() + std::chrono::milliseconds(delay_(rng_)), ts, std::move(packet)});
    flush(deliver, false);
  }
  template <typename Send>
  void flush(const Send& deliver, bool all) {
    std::sort(queue_.begin(), queue_.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
    while (!queue_.empty() && (all || queue_.front().at <= Clock::now())) {
      deliver(queue_.front().data, queue_.front().ts);
      queue_.erase(queue_.begin());
    }
  }

 private:
  struct Pending {
    Clock::time_point at;
    uint32_t ts;
    std::vector<uint8_t> data;
  };
  std::mt19937 rng_;
  std::uniform_int_distribution<int> delay_;
  std::vector<Pending> queue_;
};

struct Voice {
  double hz;
  double amplitude;
};

class LiveSessionSoak : public ::testing::Test {
 protected:
  void SetUp() override { av_log_set_level(AV_LOG_ERROR); }
};

TEST_F(LiveSessionSoak, ThreeParticipantsInRealTimeWithJitterLossAndAPause) {
  const std::filesystem::path out = fresh_dir("live_session");
  std::mutex events_mu;
  std::vector<SessionEvent> events;
  Session session({.out_dir = out,
                   .call_id = "call-live",
                   .resource_id = "res-live",
                   .jitter_window = 200ms,
                   .on_event = [&](const SessionEvent& e) {
                     std::lock_guard lock(events_mu);
                     events.push_back(e);
                   }});

  EXPECT_EQ(session.pause().code(), SessionErrc::kNotStarted);
  ASSERT_TRUE(session.join("8:acs:ada", "Ada Lovelace"));
  ASSERT_TRUE(session.join("8:acs:carol", "Carol Shaw"));
  EXPECT_EQ(session.join("8:acs:ada").code(), SessionErrc::kParticipantPresent);
  const Session::Started started = session.start("op-start");
  ASSERT_TRUE(started.status) << started.status.message();
  EXPECT_FALSE(started.recording_id.empty());
  EXPECT_EQ(session.state(), RecordingState::kActive);
  EXPECT_EQ(session.start().status.code(), SessionErrc::kAlreadyStarted);
  EXPECT_EQ(session.resume().code(), SessionErrc::kNotPaused);
  EXPECT_EQ(session.push_opus("8:acs:nobody", std::vector<uint8_t>{1, 2, 3}, 0).code(),
            SessionErrc::kUnknownParticipant);

  const auto t0 = Clock::now();
  const auto at = [&](std::chrono::milliseconds ms) { return t0 + ms; };
  std::atomic<bool> done{false};
  std::atomic<int> push_errors{0};

  // ada: Opus 440 Hz with RTP timestamps wrapping at ~5 s, 5% loss, 0-80 ms jitter;
  // red VP8 camera at 15 fps.
  std::thread ada([&] {
    PacketEncoder opus("libopus", false), vp8("libvpx", true);
    JitterLink link(7, 80);
    std::mt19937 loss(11);
    const uint32_t rtp_base = 0xFFFFFFFFu - 48000u * 5;
    int64_t samples = 0;
    int64_t frames = 0;
    auto deliver_audio = [&](const std::vector<uint8_t>& p, uint32_t ts) {
      if (!session.push_opus("8:acs:ada", p, ts)) push_errors++;
    };
    while (!done) {
      const auto audio_due = at(std::chrono::milliseconds(samples / 48));
      const auto video_due = at(std::chrono::milliseconds(frames * 1000 / 15));
      std::this_thread::sleep_until(std::min(audio_due, video_due));
      if (audio_due <= video_due) {
        opus.encode(samples, [&](AVFrame& f) {
          auto* s = reinterpret_cast<int16_t*>(f.data[0]);
          for (int i = 0; i < f.nb_samples; ++i)
            s[i] = int16_t(0.3 * 32767 * std::sin(2 * M_PI * 440 * double(samples + i) / 48000));
        }, [&](std::span<const uint8_t> p) {
          if (std::uniform_int_distribution<int>(0, 99)(loss) < 5) return;  // lost on the way
          link.send({p.begin(), p.end()}, rtp_base + uint32_t(samples), deliver_audio);
        });
        samples += opus.frame_size();
      } else {
        vp8.encode(frames, [](AVFrame& f) { fill_colour(f, 91, 110, 198); }, [&](std::span<const uint8_t> p) {
          if (!session.push_video_packet("8:acs:ada", VideoCodec::kVp8, p, uint32_t(frames * 6000))) push_errors++;
        });
        ++frames;
      }
      link.flush(deliver_audio, false);
    }
    link.flush(deliver_audio, true);
  });

  // bob: joins at 2 s; Opus 880 Hz; green H.264 camera.
  std::thread bob([&] {
    std::this_thread::sleep_until(at(2000ms));
    ASSERT_TRUE(session.join("8:acs:bob", "Bob"));
    const auto b0 = Clock::now();
    PacketEncoder opus("libopus", false), h264("libx264", true);
    JitterLink link(5, 60);
    int64_t samples = 0;
    int64_t frames = 0;
    auto deliver_audio = [&](const std::vector<uint8_t>& p, uint32_t ts) {
      if (!session.push_opus("8:acs:bob", p, ts)) push_errors++;
    };
    while (!done) {
      const auto audio_due = b0 + std::chrono::milliseconds(samples / 48);
      const auto video_due = b0 + std::chrono::milliseconds(frames * 1000 / 15);
      std::this_thread::sleep_until(std::min(audio_due, video_due));
      if (audio_due <= video_due) {
        opus.encode(samples, [&](AVFrame& f) {
          auto* s = reinterpret_cast<int16_t*>(f.data[0]);
          for (int i = 0; i < f.nb_samples; ++i)
            s[i] = int16_t(0.3 * 32767 * std::sin(2 * M_PI * 880 * double(samples + i) / 48000));
        }, [&](std::span<const uint8_t> p) { link.send({p.begin(), p.end()}, uint32_t(samples), deliver_audio); });
        samples += opus.frame_size();
      } else {
        h264.encode(frames, [](AVFrame& f) { fill_colour(f, 113, 102, 82); }, [&](std::span<const uint8_t> p) {
          if (!session.push_video_packet("8:acs:bob", VideoCodec::kH264, p, uint32_t(1000 + frames * 6000)))
            push_errors++;
        });
        ++frames;
      }
      link.flush(deliver_audio, false);
    }
  });

  // carol: 16-bit stereo PCM at 48 kHz, 660 Hz, plus a 1200 Hz tone only while paused;
  // no video (a placeholder tile). Timestamps are call times from now().
  std::thread carol([&] {
    const int64_t start_us = session.now().us();
    std::vector<int16_t> block(2 * 480);
    int64_t samples = 0;
    while (!done) {
      std::this_thread::sleep_until(at(std::chrono::milliseconds(samples / 48)));
      for (int i = 0; i < 480; ++i) {
        const double t = double(samples + i) / 48000;
        const double call_s = double(start_us) / 1e6 + t;
        double v = 0.3 * std::sin(2 * M_PI * 660 * t);
        if (call_s >= 8.7 && call_s < 10.3) v = 0.3 * std::sin(2 * M_PI * kPauseToneHz * t);
        block[2 * i] = block[2 * i + 1] = int16_t(v * 32767);
      }
      if (!session.push_pcm("8:acs:carol", block, 48000, 2, MediaTime::from_us(start_us + samples * 1000 / 48)))
        push_errors++;
      samples += 480;
    }
  });

  std::this_thread::sleep_until(at(8500ms));
  ASSERT_TRUE(session.pause("op-pause"));
  const int64_t pause_us = session.now().us();
  EXPECT_EQ(session.state(), RecordingState::kInactive);
  EXPECT_EQ(session.pause().code(), SessionErrc::kAlreadyPaused);
  std::this_thread::sleep_until(at(10500ms));
  ASSERT_TRUE(session.resume("op-resume"));
  const int64_t resume_us = session.now().us();
  std::this_thread::sleep_until(at(19000ms));
  done = true;
  ada.join();
  bob.join();
  carol.join();
  ASSERT_TRUE(session.stop("op-stop"));
  const int64_t stop_us = session.now().us();
  EXPECT_EQ(session.stop().code(), SessionErrc::kStopped);
  EXPECT_EQ(session.resume().code(), SessionErrc::kStopped);
  EXPECT_EQ(session.push_pcm("8:acs:carol", std::vector<int16_t>(960), 48000, 2, session.now()).code(),
            SessionErrc::kStopped);
  ASSERT_TRUE(session.wait());
  EXPECT_EQ(push_errors.load(), 0);
  const SessionStats stats = session.stats();
  EXPECT_EQ(stats.media_dropped_queue_full, 0);

  // Events: state changes carry their operation contexts, in order; chunks; the end.
  std::vector<std::string> contexts;
  nlohmann::json finished;
  int chunks = 0;
  for (const SessionEvent& e : events) {
    EXPECT_NE(e.kind, SessionEventKind::kError) << e.message;
    if (e.kind == SessionEventKind::kStateChanged) contexts.push_back(e.operation + "/" + e.operation_context);
    if (e.kind == SessionEventKind::kChunkFinished) ++chunks;
    if (e.kind == SessionEventKind::kRecordingFinished) finished = e.data;
  }
  EXPECT_EQ(contexts, (std::vector<std::string>{"start/op-start", "pause/op-pause", "resume/op-resume", "stop/op-stop"}));
  ASSERT_EQ(chunks, 1);
  ASSERT_FALSE(finished.is_null());
  EXPECT_EQ(finished, read_json(out / "recording.json"));

  const int64_t expected_ms = (stop_us - (resume_us - pause_us)) / 1000;
  EXPECT_NEAR(finished["data"]["recordingDurationMs"].get<int64_t>(), expected_ms, 150);
  const std::string doc = finished["data"]["recordingStorageInfo"]["recordingChunks"][0]["documentId"];
  const nlohmann::json meta = read_json(out / (doc + ".json"));
  ASSERT_EQ(meta["pauseResumeIntervals"].size(), 1u);
  EXPECT_NEAR(meta["pauseResumeIntervals"][0]["duration"].get<int64_t>(), (resume_us - pause_us) / 1000, 30);
  EXPECT_EQ(meta["participants"].size(), 3u);
  bool ada_losses = false;
  for (const auto& p : meta["participantMediaStats"])
    if (p["participantId"] == "8:acs:ada") ada_losses = p["opusPacketsLost"].get<int64_t>() > 0;
  EXPECT_TRUE(ada_losses) << meta["participantMediaStats"].dump();

  // The media: format and duration, tones where they belong, the pause cut, tiles.
  const auto three = compositor::tile_layout(3, {1920, 1080});
  auto centre = [](const compositor::Rect& r) { return std::pair{r.x + r.width / 2, r.y + r.height / 2}; };
  std::optional<Yuv> ada_tile, carol_tile, bob_tile;
  const DecodedChunk chunk = decode_chunk(out / (doc + ".mp4"), [&](int64_t i, const AVFrame& f) {
    if (i == 100) {  // output 12.5 s: everyone is in, tiles in join order
      ada_tile = pixel_at(f, centre(three[0]).first, centre(three[0]).second);
      carol_tile = pixel_at(f, centre(three[1]).first, centre(three[1]).second);
      bob_tile = pixel_at(f, centre(three[2]).first, centre(three[2]).second);
    }
  });
  EXPECT_EQ(chunk.info.video_codec, "h264");
  EXPECT_EQ(chunk.info.width, 1920);
  EXPECT_EQ(chunk.info.height, 1080);
  EXPECT_EQ(chunk.info.frame_rate_num, 8);
  EXPECT_EQ(chunk.info.audio_codec, "aac");
  EXPECT_EQ(chunk.info.sample_rate, 16000);
  EXPECT_EQ(chunk.info.channels, 1);
  EXPECT_NEAR(chunk.info.duration_s, expected_ms / 1000.0, 0.3);

  const std::span<const float> audio(chunk.audio);

  ASSERT_GT(audio.size(), 16u * 16000);
  EXPECT_GT(tone_amplitude(audio.subspan(3 * 16000, 4 * 16000), 440), 0.1) << "ada";
  EXPECT_GT(tone_amplitude(audio.subspan(3 * 16000, 4 * 16000), 660), 0.1) << "carol";
  EXPECT_GT(tone_amplitude(audio.subspan(3 * 16000, 4 * 16000), 880), 0.1) << "bob";
  EXPECT_GT(tone_amplitude(audio.subspan(11 * 16000, 4 * 16000), 440), 0.1) << "ada after the pause";
  EXPECT_LT(tone_amplitude(audio.subspan(0, 16000), 880), 0.02) << "bob not heard before joining";
  EXPECT_LT(tone_amplitude(audio, kPauseToneHz), 0.01) << "paused audio must be cut";

  ASSERT_TRUE(ada_tile && carol_tile && bob_tile);
  EXPECT_GT(ada_tile->v, 170) << "ada's tile is red";
  EXPECT_LT(bob_tile->v, 100) << "bob's tile is green";
  EXPECT_LT(bob_tile->u, 115);
  EXPECT_LT(carol_tile->v, 170) << "carol has no video: a placeholder, not red";
  EXPECT_FALSE(std::abs(carol_tile->y - bob_tile->y) < 4 && std::abs(carol_tile->v - bob_tile->v) < 4);
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace callrec::testing
