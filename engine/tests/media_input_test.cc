// MediaInput's suspend/resume (a checked file let go until the render reaches it) and
// the bounded demuxer index (a long WebM file opened again where reading had come to).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>
#include <unistd.h>

#include "callrec/mediagen/media_generator.h"
#include "media_input.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace callrec::engine {
namespace {

namespace mg = mediagen;

std::filesystem::path write_clip(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("callrec-media-input-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  mg::write_media(path, {.duration_ms = 1000,
                         .video = mg::VideoSpec{.width = 160, .height = 90, .fps = 10},
                         .audio = mg::AudioSpec{.tones = {{0, 1000, 440, 0.3}}}});
  return path;
}

struct Counts {
  int audio = 0;
  int video = 0;
  int64_t last_video_us = -1;
};

Counts read_all(MediaInput& in) {
  Counts c;
  const MediaInput::FrameCallback on_audio = [&](const AVFrame&, MediaTime) { ++c.audio; };
  const MediaInput::FrameCallback on_video = [&](const AVFrame&, MediaTime t) {
    ++c.video;
    c.last_video_us = t.us();
  };
  while (in.step(on_audio, on_video)) {
  }
  return c;
}

TEST(MediaInput, SuspendedAndResumedReadsTheSameAsNeverSuspended) {
  const auto path = write_clip("same.webm");
  MediaInput plain(path, "plain", 5'000'000);
  const Counts expected = read_all(plain);
  ASSERT_GT(expected.video, 5);

  MediaInput in(path, "resumed", 5'000'000);
  in.suspend();
  EXPECT_TRUE(in.suspended());
  EXPECT_TRUE(in.has_audio());  // what was checked is still reported
  EXPECT_TRUE(in.has_video());
  EXPECT_EQ(in.offset_us(), 5'000'000);
  in.resume();
  const Counts got = read_all(in);
  EXPECT_EQ(got.audio, expected.audio);
  EXPECT_EQ(got.video, expected.video);
  EXPECT_EQ(got.last_video_us, expected.last_video_us);
  EXPECT_TRUE(in.problems().empty());
  in.close();
  EXPECT_EQ(in.end_us(), plain.end_us());
  std::filesystem::remove_all(path.parent_path());
}

TEST(MediaInput, FileGoneBeforeResumeEndsTheInputWithAProblem) {
  const auto path = write_clip("gone.webm");
  MediaInput in(path, "participants[0].media[1].file \"gone.webm\"", 0);
  in.suspend();
  std::filesystem::remove(path);
  in.resume();  // never throws
  EXPECT_TRUE(in.done());
  EXPECT_FALSE(in.step([](const AVFrame&, MediaTime) {}, [](const AVFrame&, MediaTime) {}));
  ASSERT_EQ(in.problems().size(), 1u);
  EXPECT_NE(in.problems()[0].find("cannot read the file again"), std::string::npos) << in.problems()[0];
  EXPECT_NE(in.problems()[0].find("gone.webm"), std::string::npos) << in.problems()[0];
  in.close();
  std::filesystem::remove_all(path.parent_path());
}

// Every decoded frame as (kind, call time, size, FNV-1a of its samples or luma).
using FrameDigest = std::tuple<char, int64_t, int, uint64_t>;

uint64_t fnv1a(uint64_t h, const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ULL;
  return h;
}

struct Reading {
  std::vector<FrameDigest> frames;
  int64_t most_index_entries = 0;
};

Reading read_digests(MediaInput& in) {
  Reading r;
  const MediaInput::FrameCallback on_audio = [&](const AVFrame& f, MediaTime t) {
    const size_t bytes = static_cast<size_t>(f.nb_samples) * f.ch_layout.nb_channels * sizeof(float);
    r.frames.emplace_back('a', t.us(), f.nb_samples, fnv1a(14695981039346656037ULL, f.data[0], bytes));
  };
  const MediaInput::FrameCallback on_video = [&](const AVFrame& f, MediaTime t) {
    uint64_t h = 14695981039346656037ULL;
    for (int y = 0; y < f.height; ++y) h = fnv1a(h, f.data[0] + static_cast<ptrdiff_t>(y) * f.linesize[0], f.width);
    r.frames.emplace_back('v', t.us(), f.width * f.height, h);
  };
  while (in.step(on_audio, on_video)) r.most_index_entries = std::max(r.most_index_entries, in.demuxer_index_entries());
  return r;
}

// libavformat's Matroska demuxer indexes every audio packet it reads; a long file is
// opened again whenever its index has grown by the limit. What is decoded must not
// change at all, with or without the file's Cues (a live capture has none).
void expect_reopening_reads_the_same(const std::string& name, bool live, const std::string& video_encoder = "libvpx",
                                     const std::string& audio_encoder = "libopus", int bframes = 0) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("callrec-media-input-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  // 60 s: 3000 Opus packets of 20 ms (2800 of AAC), 600 pictures, a keyframe every 20.
  mg::write_media(path, {.duration_ms = 60'000,
                         .video = mg::VideoSpec{.width = 160, .height = 90, .fps = 10, .encoder = video_encoder,
                                                .bframes = bframes},
                         .audio = mg::AudioSpec{.tones = {{0, 60'000, 440, 0.3}}, .encoder = audio_encoder},
                         .live = live});
  MediaInput plain(path, "plain", 0);
  const Reading expected = read_digests(plain);
  ASSERT_GT(expected.frames.size(), 3000u);
  // What the limit is for: one demuxer's index grows with the file.
  EXPECT_GT(expected.most_index_entries, 2500);

  constexpr int64_t kLimit = 100;
  MediaInput in(path, "reopening", 0, kLimit);
  const Reading got = read_digests(in);
  EXPECT_GE(in.reopens(), 5);
  // The limit, plus what the new demuxer indexes again (it starts a cluster before the
  // one reading had come to; a cluster holds up to 5 s): not the whole file's.
  EXPECT_LT(got.most_index_entries, expected.most_index_entries / 3);
  ASSERT_EQ(got.frames.size(), expected.frames.size());
  for (size_t i = 0; i < got.frames.size(); ++i) ASSERT_EQ(got.frames[i], expected.frames[i]) << "frame " << i;
  EXPECT_TRUE(in.problems().empty()) << in.problems()[0];
  EXPECT_EQ(in.end_us(), plain.end_us());
  std::filesystem::remove_all(dir);
}

TEST(MediaInput, ReopeningALongWebmToBoundItsIndexReadsTheSame) {
  expect_reopening_reads_the_same("cues.webm", /*live=*/false);
}

TEST(MediaInput, ReopeningALiveCapturedWebmWithoutCuesReadsTheSame) {
  expect_reopening_reads_the_same("live.webm", /*live=*/true);
}

// H.264 with B-frames: the demuxer fills in decode timestamps from what it learnt of the
// stream's reordering, which the reopened demuxer must learn the same way.
TEST(MediaInput, ReopeningAMatroskaFileWithBFramesReadsTheSame) {
  expect_reopening_reads_the_same("h264.mkv", /*live=*/false, "libx264", "aac", /*bframes=*/2);
}

// A VP8 camera sending temporal layers (as browsers do with simulcast): the pictures a
// picture filter says will never be shown are left undecoded when nothing refers to
// them, and every other picture decodes exactly as when all are decoded.
struct LayeredReading {
  std::vector<FrameDigest> shown;  // video frames handed on
  std::vector<int64_t> skipped;    // call times told as skipped
};

LayeredReading read_layered(MediaInput& in) {
  LayeredReading r;
  const MediaInput::FrameCallback on_audio = [](const AVFrame&, MediaTime) {};
  const MediaInput::FrameCallback on_video = [&](const AVFrame& f, MediaTime t) {
    uint64_t h = 14695981039346656037ULL;
    for (int y = 0; y < f.height; ++y) h = fnv1a(h, f.data[0] + static_cast<ptrdiff_t>(y) * f.linesize[0], f.width);
    r.shown.emplace_back('v', t.us(), f.width * f.height, h);
  };
  while (in.step(on_audio, on_video)) {
  }
  return r;
}

std::filesystem::path write_layered_clip(const std::string& name, int layers) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("callrec-media-input-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  mg::write_media(path, {.duration_ms = 2000,
                         .video = mg::VideoSpec{.width = 160, .height = 90, .fps = 30, .temporal_layers = layers},
                         .audio = mg::AudioSpec{.tones = {{0, 2000, 440, 0.3}}}});
  return path;
}

TEST(MediaInput, PicturesNeverShownAreLeftUndecodedWhenNothingRefersToThem) {
  for (const int layers : {3, 2, 1}) {
    SCOPED_TRACE(std::to_string(layers) + " temporal layer(s)");
    const auto path = write_layered_clip("layers" + std::to_string(layers) + ".webm", layers);
    MediaInput all(path, "all", 1'000'000);
    const LayeredReading every = read_layered(all);
    ASSERT_EQ(every.shown.size(), 60u);

    // The filter sees each picture with its neighbours, in order, and shows none.
    MediaInput in(path, "filtered", 1'000'000);
    std::vector<std::tuple<int64_t, int64_t, int64_t>> asked;
    LayeredReading got;
    in.set_picture_filter(MediaInput::PictureFilter{
        .may_show =
            [&](int64_t before_us, int64_t pts_us, int64_t after_us) {
              asked.emplace_back(before_us, pts_us, after_us);
              return false;
            },
        .skipped = [&](MediaTime t) { got.skipped.push_back(t.us()); }});
    got.shown = read_layered(in).shown;
    EXPECT_TRUE(in.problems().empty()) << in.problems()[0];
    EXPECT_EQ(in.pictures_not_decoded(), static_cast<int64_t>(got.skipped.size()));

    // Every picture is either decoded or told as skipped, at its own time, in order.
    std::vector<int64_t> times;
    for (const FrameDigest& f : got.shown) times.push_back(std::get<1>(f));
    times.insert(times.end(), got.skipped.begin(), got.skipped.end());
    std::sort(times.begin(), times.end());
    std::vector<int64_t> expected_times;
    for (const FrameDigest& f : every.shown) expected_times.push_back(std::get<1>(f));
    EXPECT_EQ(times, expected_times);
    // The decoded ones are exactly what decoding everything gives at those times.
    for (const FrameDigest& f : got.shown)
      EXPECT_NE(std::find(every.shown.begin(), every.shown.end(), f), every.shown.end())
          << "picture at " << std::get<1>(f) << " us differs";
    // Neither the first picture nor the last is ever asked about (another file's may
    // meet them in the tile).
    ASSERT_FALSE(asked.empty());
    EXPECT_GT(std::get<1>(asked.front()), expected_times.front());
    EXPECT_LT(std::get<1>(asked.back()), expected_times.back());
    for (const auto& [before, pts, after] : asked) EXPECT_TRUE(before < pts && pts < after);

    // Three layers: the odd pictures are referred to by none (up to 30 of 60, libvpx
    // makes a few of them references too; the decoder tells); two: every other one; one
    // layer: every picture is a reference and all are decoded.
    const size_t undecoded = got.skipped.size();
    if (layers == 1) {
      EXPECT_EQ(undecoded, 0u);
    } else {
      EXPECT_GE(undecoded, 20u);
      EXPECT_LE(undecoded, 29u);  // never the last picture
    }

    // A filter that may show everything leaves nothing undecoded.
    MediaInput shown(path, "shown", 1'000'000);
    shown.set_picture_filter(MediaInput::PictureFilter{.may_show = [](int64_t, int64_t, int64_t) { return true; },
                                                       .skipped = [](MediaTime) { ADD_FAILURE(); }});
    EXPECT_EQ(read_layered(shown).shown, every.shown);
    std::filesystem::remove_all(path.parent_path());
  }
}

}  // namespace
}  // namespace callrec::engine
