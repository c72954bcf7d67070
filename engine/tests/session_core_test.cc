// SessionCore's picture bookkeeping, seen from a driver that decodes ahead.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "callrec/core/error.h"
#include "session_core.h"

extern "C" {
#include <libavutil/buffer.h>
#include <libavutil/frame.h>
}

namespace callrec::engine {
namespace {

av::FramePtr grey_picture() {
  av::FramePtr f = av::make_frame();
  f->width = 64;
  f->height = 36;
  f->format = AV_PIX_FMT_YUV420P;
  check_av(av_frame_get_buffer(f.get(), 0), "allocating a test picture");
  for (int plane = 0; plane < 3; ++plane) {
    const int rows = plane == 0 ? f->height : f->height / 2;
    for (int y = 0; y < rows; ++y) std::fill_n(f->data[plane] + y * f->linesize[plane], f->linesize[plane], 128);
  }
  return f;
}

// The offline driver decodes an input until its audio covers the next period, so a
// 30 fps camera is decoded up to a period beyond the next composed instant. Of those
// pictures only the one nearest to each instant is ever shown; the others must go as
// soon as their successor arrives, not when the compose after next has passed (each
// one holds a buffer of the decoder's picture pool).
TEST(SessionCore, PicturesThatCanNeverBeShownAreLetGoAsTheNextArrives) {
  const auto dir = std::filesystem::temp_directory_path() / ("callrec-session-core-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  SessionCoreConfig config{.recording = {.out_dir = dir, .call_id = "core-test", .recording_id = "r"}};
  SessionCore core(std::move(config), RecordTimeline({}));
  const SessionCore::InputId input = core.add_input(core.add_participant("8:acs:cam", "Cam"), false, MediaTime::from_us(0), false, true);
  core.set_no_more_inputs();

  constexpr int kPictures = 90;  // 3 s at 30 fps
  const auto pts_us = [](int k) { return int64_t{k} * 1'000'000 / 30; };
  std::vector<av::FramePtr> pushed;
  size_t most_held = 0;
  for (;;) {
    SessionCore::InputId lagging = 0;
    const SessionCore::StepResult r = core.step(kNoClockLimit, /*wait_for_inputs=*/true, &lagging);
    if (r == SessionCore::StepResult::kFinished) break;
    if (r == SessionCore::StepResult::kWrotePeriod) continue;
    ASSERT_EQ(r, SessionCore::StepResult::kNeedInput);
    ASSERT_EQ(lagging, input);
    if (static_cast<int>(pushed.size()) == kPictures) {
      core.end_video(input);
      core.end_input(input, MediaTime::from_us(pts_us(kPictures)));
      continue;
    }
    // Decode ahead like the file driver: up to a period past the next composed instant.
    const int64_t until = core.next_call_us() + SessionCore::kPeriodUs;
    while (static_cast<int>(pushed.size()) < kPictures && pts_us(static_cast<int>(pushed.size())) <= until) {
      pushed.push_back(grey_picture());
      ASSERT_TRUE(core.push_video(input, *pushed.back(), MediaTime::from_us(pts_us(static_cast<int>(pushed.size()) - 1))));
      const size_t held = static_cast<size_t>(std::count_if(pushed.begin(), pushed.end(), [](const av::FramePtr& f) {
        return av_buffer_get_ref_count(f->buf[0]) > 1;
      }));
      most_held = std::max(most_held, held);
    }
  }
  core.finish("CallEnded");
  EXPECT_EQ(core.periods_written(), 24);
  // The picture on screen, the nearest candidate for the next instant, and the newest.
  EXPECT_LE(most_held, 3u);
  std::filesystem::remove_all(dir);
}

// Live, a pause can still be placed at the next composed instant until its audio is
// mixed, and a quick resume would compose next at any time after it: until then, no
// picture after the instant is let go.
TEST(SessionCore, LiveKeepsPicturesWhileAPauseCanStillMoveTheNextInstant) {
  const auto dir = std::filesystem::temp_directory_path() / ("callrec-session-core-live-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  SessionCoreConfig config{.recording = {.out_dir = dir, .call_id = "core-test", .recording_id = "r"},
                           .timeline_may_change = true};
  {
    SessionCore core(std::move(config), RecordTimeline({}));
    const SessionCore::InputId input = core.add_input(core.add_participant("8:acs:cam", "Cam"), false, MediaTime::from_us(0), false, true);
    std::vector<av::FramePtr> pushed;
    for (int k = 0; k < 4; ++k) {  // 0, 33, 66, 100 ms: the middle two lie between instants 0 and 125 ms
      pushed.push_back(grey_picture());
      ASSERT_TRUE(core.push_video(input, *pushed.back(), MediaTime::from_us(int64_t{k} * 1'000'000 / 30)));
    }
    for (const av::FramePtr& f : pushed) EXPECT_GT(av_buffer_get_ref_count(f->buf[0]), 1);
  }  // nothing was recorded: the core goes without finishing
  std::filesystem::remove_all(dir);
}

// A live backend may push an empty Opus packet with a level saying voice (the mixer
// conceals it). The speaking activity counts it as one 20 ms frame; libopus is never
// handed the empty packet to count its samples (UBSan: a null pointer where libopus
// declares none; found by fuzz_opus_push).
TEST(SessionCore, AnEmptyOpusPacketMarkedAsVoiceIsHeardForOneFrame) {
  const auto dir = std::filesystem::temp_directory_path() / ("callrec-session-core-opus-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  SessionCoreConfig config{.recording = {.out_dir = dir, .call_id = "core-test", .recording_id = "r"}};
  SessionCore core(std::move(config), RecordTimeline({}));
  const SessionCore::InputId input =
      core.add_input(core.add_participant("8:acs:ada", "Ada"), false, MediaTime::from_us(0), true, false);
  core.push_opus(input, {}, MediaTime::from_us(500'000), /*voice_active=*/true);
  core.end_input(input, MediaTime::from_us(1'000'000));
  core.set_no_more_inputs();
  for (;;) {
    SessionCore::InputId lagging = 0;
    const SessionCore::StepResult r = core.step(kNoClockLimit, /*wait_for_inputs=*/true, &lagging);
    if (r == SessionCore::StepResult::kFinished) break;
    ASSERT_EQ(r, SessionCore::StepResult::kWrotePeriod);
  }
  const nlohmann::json notification = core.finish("CallEnded");
  const std::string id = notification["data"]["recordingStorageInfo"]["recordingChunks"][0]["documentId"];
  std::ifstream in(dir / (id + ".json"));
  const nlohmann::json meta = nlohmann::json::parse(in);
  ASSERT_EQ(meta["participantActivity"].size(), 1u) << meta.dump(2);
  const nlohmann::json& speaking = meta["participantActivity"][0]["speaking"];
  ASSERT_EQ(speaking.size(), 1u) << meta.dump(2);
  // The periods (1/8 s) the 20 ms at 0.5 s touch.
  EXPECT_EQ(speaking[0]["startMs"], 500);
  EXPECT_EQ(speaking[0]["endMs"], 625);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace callrec::engine
