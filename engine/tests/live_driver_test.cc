// The live driver from the inside (LiveSession with LiveSessionOptions): a writer that
// keeps the periods in memory or fails on cue, a decoder that cannot open. In virtual
// time, like the public API's tests in tests/live_*_test.cc.
#include "live_session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <numbers>
#include <unistd.h>

#include "callrec/core/error.h"
#include "callrec/muxer/recording_writer.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

namespace callrec::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr compositor::Size kSmallCanvas{320, 180};

// Keeps what the core writes: every audio sample and the canvas of every period.
class CapturingWriter final : public PeriodWriter {
 public:
  struct Capture {
    std::vector<float> audio;
    std::vector<av::FramePtr> pictures;
  };
  explicit CapturingWriter(Capture& into) : into_(into) {}
  void write_period(const AVFrame& video, std::span<const float> audio) override {
    into_.audio.insert(into_.audio.end(), audio.begin(), audio.end());
    av::FramePtr copy = av::make_frame();
    copy->format = video.format;
    copy->width = video.width;
    copy->height = video.height;
    check_av(av_frame_get_buffer(copy.get(), 0), "test: picture");
    check_av(av_frame_copy(copy.get(), &video), "test: copy");
    into_.pictures.push_back(std::move(copy));
  }
  nlohmann::json finish(const std::string& reason) override { return {{"sessionEndReason", reason}}; }

 private:
  Capture& into_;
};

double tone(std::span<const float> s, double hz) {
  double re = 0, im = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const double w = 2 * std::numbers::pi * hz * static_cast<double>(i) / 16000;
    re += s[i] * std::cos(w);
    im += s[i] * std::sin(w);
  }
  return s.empty() ? 0 : 2 * std::hypot(re, im) / static_cast<double>(s.size());
}

av::FramePtr flat_picture(int y, int u, int v) {
  av::FramePtr f = av::make_frame();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = 160;
  f->height = 90;
  check_av(av_frame_get_buffer(f.get(), 0), "test picture");
  for (int row = 0; row < 90; ++row) std::fill_n(f->data[0] + row * f->linesize[0], 160, uint8_t(y));
  for (int row = 0; row < 45; ++row) {
    std::fill_n(f->data[1] + row * f->linesize[1], 80, uint8_t(u));
    std::fill_n(f->data[2] + row * f->linesize[2], 80, uint8_t(v));
  }
  return f;
}

std::vector<int16_t> pcm(double hz, int64_t t_ms) {
  std::vector<int16_t> block(320);
  for (int i = 0; i < 320; ++i) block[i] = int16_t(6000 * std::sin(2 * std::numbers::pi * hz * double(t_ms * 16 + i) / 16000));
  return block;
}

// Encoded frames of 160x90 pictures at 10 fps from `encoder`, set up by `configure`;
// picture(k) is the k-th picture. The encoder is drained at the end.
std::vector<std::vector<uint8_t>> encoded_frames(const char* encoder, int count,
                                                 const std::function<void(AVCodecContext&)>& configure,
                                                 const std::function<av::FramePtr(int)>& picture) {
  const AVCodec* codec = avcodec_find_encoder_by_name(encoder);
  av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  ctx->width = 160;
  ctx->height = 90;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = {1, 10};
  ctx->thread_count = 1;
  configure(*ctx);
  check_av(avcodec_open2(ctx.get(), codec, nullptr), encoder);
  std::vector<std::vector<uint8_t>> out;
  av::PacketPtr p = av::make_packet();
  const auto receive = [&] {
    while (avcodec_receive_packet(ctx.get(), p.get()) == 0) {
      out.emplace_back(p->data, p->data + p->size);
      av_packet_unref(p.get());
    }
  };
  for (int k = 0; k < count; ++k) {
    av::FramePtr f = picture(k);
    f->pts = k;
    check_av(avcodec_send_frame(ctx.get(), f.get()), "encode");
    receive();
  }
  check_av(avcodec_send_frame(ctx.get(), nullptr), "drain");
  receive();
  return out;
}

// VP8 frames of a flat colour, a keyframe every 10.
std::vector<std::vector<uint8_t>> vp8_frames(int count, int y, int u, int v) {
  return encoded_frames(
      "libvpx", count,
      [](AVCodecContext& c) {
        c.gop_size = 10;
        av_opt_set(c.priv_data, "deadline", "realtime", 0);
      },
      [&](int) { return flat_picture(y, u, v); });
}

// H.264 Annex B access units of flat pictures (a little brighter each) from libx264,
// keeping `references` reference pictures, one keyframe at the start.
std::vector<std::vector<uint8_t>> h264_frames(int count, int references) {
  return encoded_frames(
      "libx264", count,
      [&](AVCodecContext& c) {
        c.gop_size = 1000;
        c.refs = references;
        av_opt_set(c.priv_data, "preset", "ultrafast", 0);
      },
      [](int k) { return flat_picture(40 + 5 * k, 128, 128); });
}

struct Events {
  std::vector<SessionEvent> all;
  std::function<void(const SessionEvent&)> sink() {
    return [this](const SessionEvent& e) { all.push_back(e); };
  }
};

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("callrec-live-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

class LiveDriverTest : public ::testing::Test {
 protected:
  void SetUp() override { av_log_set_level(AV_LOG_QUIET); }
};

// A VP8 decoder that fails to open (an FFmpeg without it, a resource limit) costs only
// that participant's video while it fails: the frames are dropped, counted and listed;
// the decoder is tried again a second later, and the picture comes back.
TEST_F(LiveDriverTest, ADecoderThatCannotOpenCostsOnlyThatVideo) {
  auto clock = std::make_shared<VirtualClock>();
  CapturingWriter::Capture capture;
  Events events;
  int opens = 0;
  LiveSession s({.out_dir = temp_dir("no-decoder"), .call_id = "c", .jitter_window = 200ms, .clock = clock,
                 .on_event = events.sink()},
                {.make_writer = [&](const muxer::RecordingConfig&, muxer::ChunkAnnotator&) {
                   return std::make_unique<CapturingWriter>(capture);
                 },
                 .open_decoder = [&](VideoCodec codec) -> av::CodecContextPtr {
                   if (opens++ == 0) throw Error("opening the VP8 decoder: Cannot allocate memory");
                   return open_video_decoder(codec);
                 },
                 .compositor = {.canvas = kSmallCanvas}});
  ASSERT_TRUE(s.join("8:acs:ada", "Ada"));
  ASSERT_TRUE(s.join("8:acs:eve", "Eve"));
  ASSERT_TRUE(s.start("").status);
  const auto blue = vp8_frames(40, 41, 240, 110);
  const av::FramePtr red = flat_picture(81, 90, 240);
  for (int64_t t = 0; t < 4000; t += 20) {
    ASSERT_TRUE(s.push_pcm("8:acs:ada", pcm(440, t), 16000, 1, MediaTime::from_ms(t)));
    if (t % 100 == 0) {
      ASSERT_TRUE(s.push_video_frame("8:acs:ada", *red, MediaTime::from_ms(t), VideoTrack::kCamera));
      ASSERT_TRUE(s.push_video_packet("8:acs:eve", VideoCodec::kVp8, blue[static_cast<size_t>(t / 100)], std::nullopt,
                                      MediaTime::from_ms(t), VideoTrack::kCamera));
    }
    clock->advance(MediaTime::from_ms(20));
  }
  ASSERT_TRUE(s.stop(""));
  ASSERT_TRUE(s.wait());
  EXPECT_EQ(opens, 2) << "tried again a second later, once";
  ASSERT_EQ(capture.pictures.size(), 32u);
  EXPECT_GT(tone(std::span<const float>(capture.audio).subspan(8000, 40000), 440), 0.1) << "Ada is heard";
  // Side by side: Ada left, Eve right. Eve's picture is back from 1 s (the next keyframe).
  const AVFrame& at3s = *capture.pictures[24];
  EXPECT_GT(at3s.data[2][45 * at3s.linesize[2] + 40], 200) << "Ada's red";
  EXPECT_GT(at3s.data[1][45 * at3s.linesize[1] + 120], 200) << "Eve's blue, once her decoder opened";
  const SessionStats stats = s.stats();
  EXPECT_EQ(stats.media_dropped_unusable, 10) << "Eve's frames of the first second";
  const auto problem = std::find_if(events.all.begin(), events.all.end(), [](const SessionEvent& e) {
    return e.kind == SessionEventKind::kError;
  });
  EXPECT_EQ(problem, events.all.end()) << problem->message;
}

// A real RecordingWriter that fails (an encoder or storage error) at its Nth period.
class FailingWriter final : public PeriodWriter {
 public:
  FailingWriter(const muxer::RecordingConfig& config, muxer::ChunkAnnotator& annotator, int fail_at)
      : real_(config, annotator), fail_at_(fail_at) {}
  void write_period(const AVFrame& video, std::span<const float> audio) override {
    if (++periods_ == fail_at_) throw Error("muxer: encoding a picture: Input/output error (injected)");
    real_.write_period(video, audio);
  }
  nlohmann::json finish(const std::string& reason) override { return real_.finish(reason); }

 private:
  muxer::RecordingWriter real_;
  const int fail_at_;
  int periods_ = 0;
};

LiveSessionOptions failing_at(int period) {
  return {.make_writer = [period](const muxer::RecordingConfig& config, muxer::ChunkAnnotator& annotator) {
    return std::make_unique<FailingWriter>(config, annotator, period);
  }};
}

// Files in the output directory that are not the recording's, some named like a
// recording's temporaries: completing the recording must leave each as it was.
const std::vector<std::string> kForeignFiles = {"notes.txt", ".0123456789abcdef0123456789abcdef-000000.mp4.part",
                                                "..backup.state.json.tmp", ".cache.json.tmp"};

void write_foreign_files(const fs::path& out) {
  fs::create_directories(out);
  for (const std::string& name : kForeignFiles) std::ofstream(out / name) << "not callrec's: " << name;
}

void expect_foreign_files_untouched(const fs::path& out) {
  for (const std::string& name : kForeignFiles) {
    std::ifstream in(out / name);
    EXPECT_TRUE(in) << name << " was removed";
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "not callrec's: " + name);
  }
}

// The writer fails on cue (here at the 30th period) while a real chunk is open: the
// recording ends, the chunk is completed from its fragments, recording.json names the
// failure, and every call after says so. Only the recording's own files are touched.
TEST_F(LiveDriverTest, AnOutputFailureEndsTheRecordingButKeepsWhatWasWritten) {
  const fs::path out = temp_dir("failing-writer");
  write_foreign_files(out);
  auto clock = std::make_shared<VirtualClock>();
  Events events;
  LiveSession s({.out_dir = out, .call_id = "c", .jitter_window = 200ms, .clock = clock, .on_event = events.sink()},
                failing_at(30));
  ASSERT_TRUE(s.join("8:acs:ada", "Ada"));
  ASSERT_TRUE(s.start("").status);
  int64_t t = 0;
  for (; t < 10'000 && s.stats().periods_written < 40; t += 20) {
    if (!s.push_pcm("8:acs:ada", pcm(440, t), 16000, 1, MediaTime::from_ms(t))) break;
    clock->advance(MediaTime::from_ms(20));
  }
  EXPECT_LT(t, 5000) << "the failure ended the recording";
  EXPECT_EQ(s.state(), RecordingState::kInactive);
  const Status waited = s.wait();
  EXPECT_EQ(waited.code(), SessionErrc::kOutputFailed);
  EXPECT_NE(waited.message().find("(injected)"), std::string::npos) << waited.message();
  EXPECT_EQ(s.push_pcm("8:acs:ada", pcm(440, t), 16000, 1, s.now()).code(), SessionErrc::kOutputFailed);
  EXPECT_EQ(s.pause("").code(), SessionErrc::kOutputFailed);

  std::vector<SessionEventKind> kinds;
  for (const SessionEvent& e : events.all) kinds.push_back(e.kind);
  ASSERT_GE(kinds.size(), 3u);
  EXPECT_EQ(kinds[kinds.size() - 2], SessionEventKind::kError);
  EXPECT_EQ(kinds.back(), SessionEventKind::kRecordingFinished);
  const nlohmann::json& notification = events.all.back().data;
  EXPECT_EQ(notification["data"]["sessionEndReason"], "OutputFailed");
  EXPECT_EQ(notification["data"]["sessionEndError"], "muxer: encoding a picture: Input/output error (injected)");
  const auto& chunks = notification["data"]["recordingStorageInfo"]["recordingChunks"];
  ASSERT_EQ(chunks.size(), 1u);
  const std::string id = chunks[0]["documentId"];
  EXPECT_TRUE(fs::exists(out / (id + ".mp4")));
  EXPECT_GE(fs::file_size(out / (id + ".mp4")), 10'000u);
  EXPECT_TRUE(fs::exists(out / "recording.json"));
  expect_foreign_files_untouched(out);
  for (const auto& entry : fs::directory_iterator(out)) {
    const std::string name = entry.path().filename().string();
    if (std::find(kForeignFiles.begin(), kForeignFiles.end(), name) != kForeignFiles.end()) continue;
    EXPECT_FALSE(name.starts_with(".")) << "left behind: " << name;
  }
  fs::remove_all(out);
}

// A failure before the first second of media reached the disk: there is no chunk to
// complete. The recording's files stay as they were (what recovery found is evidence),
// no recording.json is written, and the error says so.
TEST_F(LiveDriverTest, AnOutputFailureBeforeAnyMediaReachedTheDiskLeavesTheFilesAsTheyWere) {
  const fs::path out = temp_dir("failing-writer-early");
  write_foreign_files(out);
  auto clock = std::make_shared<VirtualClock>();
  Events events;
  LiveSession s({.out_dir = out, .call_id = "c", .jitter_window = 200ms, .clock = clock, .on_event = events.sink()},
                failing_at(3));
  ASSERT_TRUE(s.join("8:acs:ada", "Ada"));
  ASSERT_TRUE(s.start("").status);
  for (int64_t t = 0; t < 2000; t += 20) {
    if (!s.push_pcm("8:acs:ada", pcm(440, t), 16000, 1, MediaTime::from_ms(t))) break;
    clock->advance(MediaTime::from_ms(20));
  }
  const Status waited = s.wait();
  EXPECT_EQ(waited.code(), SessionErrc::kOutputFailed);
  EXPECT_NE(waited.message().find("(injected)"), std::string::npos) << waited.message();
  EXPECT_NE(waited.message().find("no chunk held media yet"), std::string::npos) << waited.message();
  ASSERT_FALSE(events.all.empty());
  EXPECT_EQ(events.all.back().kind, SessionEventKind::kError);
  EXPECT_FALSE(fs::exists(out / "recording.json"));
  expect_foreign_files_untouched(out);
  int state_files = 0;
  for (const auto& entry : fs::directory_iterator(out))
    if (entry.path().filename().string().ends_with(".state.json")) ++state_files;
  EXPECT_EQ(state_files, 1) << "the open chunk's state file stays";
  fs::remove_all(out);
}

TEST(VideoPacketDecoder, TellsKeyframes) {
  const auto frames = vp8_frames(12, 80, 128, 128);
  EXPECT_TRUE(is_keyframe(VideoCodec::kVp8, frames[0]));
  EXPECT_FALSE(is_keyframe(VideoCodec::kVp8, frames[1]));
  EXPECT_TRUE(is_keyframe(VideoCodec::kVp8, frames[10]));
  const std::vector<uint8_t> idr = {0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 0x88};
  const std::vector<uint8_t> p_slice = {0, 0, 0, 1, 0x41, 0x9a, 0x02};
  EXPECT_TRUE(is_keyframe(VideoCodec::kH264, idr));
  EXPECT_FALSE(is_keyframe(VideoCodec::kH264, p_slice));
  EXPECT_FALSE(is_keyframe(VideoCodec::kH264, std::vector<uint8_t>{0, 0, 1}));
  EXPECT_FALSE(is_keyframe(VideoCodec::kVp8, std::vector<uint8_t>{0}));
}

// A decoder joining a stream between keyframes wants one, at most once a second of
// media, and shows pictures from the keyframe on.
TEST(VideoPacketDecoder, AsksForAKeyframeUntilOneComes) {
  av_log_set_level(AV_LOG_QUIET);
  const auto frames = vp8_frames(30, 80, 128, 128);  // keyframes at 0, 10, 20
  VideoPacketDecoder decoder;
  int wanted = 0, pictures = 0;
  std::vector<MediaTime> shown;
  for (size_t k = 3; k < frames.size(); ++k) {
    std::vector<uint8_t> padded = frames[k];
    padded.resize(frames[k].size() + AV_INPUT_BUFFER_PADDING_SIZE);
    const MediaTime at(static_cast<int64_t>(k) * 9000, Rational{1, 90000});  // 10 fps
    const auto r = decoder.decode(VideoCodec::kVp8, padded, frames[k].size(), at,
                                  [&](const AVFrame&, MediaTime t) { shown.push_back(t); });
    wanted += r.keyframe_wanted;
    pictures += r.pictures;
    if (k < 10) {
      EXPECT_TRUE(r.problem.has_value()) << k;
    }
  }
  EXPECT_EQ(wanted, 1) << "frames 3-9 span 0.6 s: one request";
  EXPECT_EQ(pictures, 20);
  ASSERT_FALSE(shown.empty());
  EXPECT_EQ(shown.front(), MediaTime::from_ms(1000)) << "the keyframe's time";
}

// A live H.264 stream whose reference pictures outgrow the decoder's picture budget:
// the frame that would pass it is dropped and said why, the decoder lets go of its
// pictures and asks for a keyframe, and pictures come again from the next one.
TEST(VideoPacketDecoder, PicturesPastTheMemoryBudgetAreDroppedUntilAKeyframe) {
  av_log_set_level(AV_LOG_QUIET);
  const auto frames = h264_frames(24, 16);
  ASSERT_EQ(frames.size(), 24u);
  ASSERT_TRUE(is_keyframe(VideoCodec::kH264, frames[0]));
  // Each 160x90 picture takes ~30 kB with the decoder's padding: room for about ten.
  VideoPacketDecoder decoder(open_video_decoder, 300'000);
  int pictures = 0, wanted = 0;
  std::optional<std::string> refused;
  const auto push = [&](const std::vector<uint8_t>& frame, int64_t k) {
    std::vector<uint8_t> padded = frame;
    padded.resize(frame.size() + AV_INPUT_BUFFER_PADDING_SIZE);
    const auto r = decoder.decode(VideoCodec::kH264, padded, frame.size(), MediaTime::from_ms(k * 100),
                                  [&](const AVFrame&, MediaTime) { ++pictures; });
    wanted += r.keyframe_wanted;
    if (r.problem && !refused) refused = r.problem;
    return r;
  };
  for (size_t k = 0; k < frames.size(); ++k) push(frames[k], static_cast<int64_t>(k));
  ASSERT_TRUE(refused.has_value()) << "16 references of ~30 kB fit 300 kB";
  EXPECT_NE(refused->find("H.264 frame could not be decoded (the decoder's 160x90 yuv420p pictures ("),
            std::string::npos)
      << *refused;
  EXPECT_NE(refused->find("a video decoder may hold)"), std::string::npos) << *refused;
  EXPECT_GE(pictures, 5);
  EXPECT_LT(pictures, 16);
  EXPECT_GE(wanted, 1);
  // The keyframe restarts it.
  const int before = pictures;
  const auto r = push(frames[0], 30);
  EXPECT_FALSE(r.problem.has_value()) << *r.problem;
  EXPECT_EQ(pictures, before + 1);
}

}  // namespace
}  // namespace callrec::engine
