// Contact-sheet pictures: the picture shown is the one at the time asked for (a white
// flash marks one), near a keyframe only that keyframe is decoded, and elsewhere only
// the pictures from the keyframe before.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/mediagen/media_generator.h"
#include "chunk_pictures.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace callrec::report {
namespace {

namespace fs = std::filesystem;

// Mean luma of a JPEG's centre.
double centre_luma(const std::string& jpeg, int* width = nullptr) {
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
  av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  check_av(avcodec_open2(ctx.get(), codec, nullptr), "opening the JPEG decoder");
  av::PacketPtr p = av::make_packet();
  check_av(av_new_packet(p.get(), static_cast<int>(jpeg.size())), "packet");
  std::copy(jpeg.begin(), jpeg.end(), p->data);
  check_av(avcodec_send_packet(ctx.get(), p.get()), "decoding a JPEG");
  av::FramePtr f = av::make_frame();
  check_av(avcodec_receive_frame(ctx.get(), f.get()), "decoding a JPEG");
  if (width) *width = f->width;
  double sum = 0;
  for (int y = f->height / 2 - 4; y < f->height / 2 + 4; ++y)
    for (int x = f->width / 2 - 4; x < f->width / 2 + 4; ++x) sum += f->data[0][y * f->linesize[0] + x];
  return sum / 64;
}

class ChunkPicturesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_ERROR);
    path_ = new fs::path(fs::temp_directory_path() / ("callrec-pictures-" + std::to_string(::getpid()) + ".mp4"));
    // 12 s at 8 fps, a keyframe every 2 s, dark blue with a white flash at 3 s and 7 s.
    mediagen::write_media(*path_, {.duration_ms = 12'000,
                                   .video = mediagen::VideoSpec{.width = 640, .height = 360, .fps = 8,
                                                                .colour = {20, 20, 90}, .moving_square = false,
                                                                .flash_at_ms = {3000, 7000}, .encoder = "libx264"}});
  }
  static void TearDownTestSuite() {
    fs::remove(*path_);
    delete path_;
  }
  static fs::path* path_;
};

fs::path* ChunkPicturesTest::path_ = nullptr;

TEST_F(ChunkPicturesTest, ThePictureShownIsTheOneAtTheTimeAskedFor) {
  const ChunkPictures got = sample_chunk_pictures(*path_, {2875, 3000, 3125, 7000}, {.width = 160});
  ASSERT_EQ(got.pictures.size(), 4u);
  EXPECT_EQ(got.pictures[1].ms, 3000);
  int width = 0;
  EXPECT_LT(centre_luma(got.pictures[0].jpeg, &width), 80) << "2.875 s is before the flash";
  EXPECT_EQ(width, 160);
  EXPECT_GT(centre_luma(got.pictures[1].jpeg), 200) << "3 s is the flash";
  EXPECT_LT(centre_luma(got.pictures[2].jpeg), 80) << "3.125 s is after the flash";
  EXPECT_GT(centre_luma(got.pictures[3].jpeg), 200) << "7 s is the flash";
  // From the keyframe at 2 s to 3.125 s (decoding on between them), then 6-7 s.
  EXPECT_LE(got.frames_decoded, 10 + 9);
}

TEST_F(ChunkPicturesTest, NearAKeyframeOnlyTheKeyframeIsDecoded) {
  const ChunkPictures got = sample_chunk_pictures(*path_, {300, 4200, 7900, 10'100}, {.width = 160, .snap_ms = 500});
  ASSERT_EQ(got.pictures.size(), 4u);
  EXPECT_EQ(got.pictures[0].ms, 0);
  EXPECT_EQ(got.pictures[1].ms, 4000);
  EXPECT_EQ(got.pictures[2].ms, 8000);
  EXPECT_EQ(got.pictures[3].ms, 10'000);
  EXPECT_EQ(got.frames_decoded, 4);
}

// callrec's chunks have B-frames: decode times run ahead of presentation times, and a
// seek must still land on the keyframe asked for, not the one before.
TEST_F(ChunkPicturesTest, WithBFramesNearAKeyframeOnlyTheKeyframeIsDecoded) {
  const fs::path path = fs::temp_directory_path() / ("callrec-pictures-b-" + std::to_string(::getpid()) + ".mp4");
  mediagen::write_media(path, {.duration_ms = 12'000,
                               .video = mediagen::VideoSpec{.width = 640, .height = 360, .fps = 8,
                                                            .colour = {20, 20, 90}, .flash_at_ms = {4000},
                                                            .encoder = "libx264", .bframes = 2}});
  const ChunkPictures got = sample_chunk_pictures(path, {300, 4200, 7900}, {.width = 160, .snap_ms = 500});
  fs::remove(path);
  ASSERT_EQ(got.pictures.size(), 3u);
  EXPECT_EQ(got.pictures[0].ms, 0);
  EXPECT_EQ(got.pictures[1].ms, 4000);
  EXPECT_GT(centre_luma(got.pictures[1].jpeg), 200) << "4 s is the flash";
  EXPECT_EQ(got.pictures[2].ms, 8000);
  EXPECT_EQ(got.frames_decoded, 3);
}

TEST_F(ChunkPicturesTest, AFileThatIsNotAnMp4IsAnErrorNamingIt) {
  const fs::path text = fs::temp_directory_path() / ("callrec-pictures-" + std::to_string(::getpid()) + ".txt.mp4");
  { std::ofstream(text) << "not a video"; }
  try {
    sample_chunk_pictures(text, {0}, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text.filename().string()), std::string::npos) << e.what();
  }
  fs::remove(text);
}

}  // namespace
}  // namespace callrec::report
