// MediaInput's suspend/resume: a checked file let go until the render reaches it.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
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

}  // namespace
}  // namespace callrec::engine
