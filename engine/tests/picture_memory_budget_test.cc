// PictureMemoryBudget on a real H.264 decoder: an x264 stream keeping 16 reference
// pictures, decoded under a budget too small for them and under one large enough.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>
#include <unistd.h>

#include "callrec/core/av.h"
#include "callrec/mediagen/media_generator.h"
#include "picture_memory_budget.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
}

namespace callrec::engine {
namespace {

namespace mg = mediagen;

constexpr int kWidth = 640;
constexpr int kHeight = 360;
constexpr int64_t kPictureBytes = int64_t{kWidth} * kHeight * 3 / 2;

const std::filesystem::path& sixteen_reference_clip() {
  static const std::filesystem::path path = [] {
    const auto dir = std::filesystem::temp_directory_path() / ("callrec-picture-budget-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto p = dir / "refs.mp4";
    mg::write_media(p, {.duration_ms = 3000,
                        .video = mg::VideoSpec{.width = kWidth, .height = kHeight, .fps = 10, .encoder = "libx264",
                                               .references = 16, .keyframe_interval_frames = 100}});
    return p;
  }();
  return path;
}

struct Decoded {
  int pictures = 0;
  int refused = 0;                  // packets the decoder failed for want of memory
  std::vector<std::string> reasons;  // take_refusal() after each failed packet
  int64_t peak_bytes = 0;
  int64_t held_at_end = 0;  // after the decoder is closed, `kept` still held
  std::vector<av::FramePtr> kept;
};

// Decodes the clip's video with a budget of `max_bytes` (0: none, FFmpeg's own
// allocator), keeping the first `keep` pictures (references of the caller's own, as a
// queue holds them).
Decoded decode_clip(int64_t max_bytes, int keep) {
  Decoded d;
  AVFormatContext* raw = nullptr;
  EXPECT_GE(avformat_open_input(&raw, sixteen_reference_clip().c_str(), nullptr, nullptr), 0);
  av::InputFormatPtr format(raw);
  EXPECT_GE(avformat_find_stream_info(raw, nullptr), 0);
  const int index = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  EXPECT_GE(index, 0);
  const AVCodec* codec = avcodec_find_decoder(raw->streams[index]->codecpar->codec_id);
  std::shared_ptr<PictureMemoryBudget> budget;
  {
    av::CodecContextPtr decoder(avcodec_alloc_context3(codec));
    avcodec_parameters_to_context(decoder.get(), raw->streams[index]->codecpar);
    decoder->thread_count = 1;
    if (max_bytes > 0) budget = PictureMemoryBudget::install(*decoder, max_bytes);
    EXPECT_GE(avcodec_open2(decoder.get(), codec, nullptr), 0);
    av::PacketPtr packet = av::make_packet();
    av::FramePtr frame = av::make_frame();
    const auto receive = [&] {
      while (avcodec_receive_frame(decoder.get(), frame.get()) == 0) {
        ++d.pictures;
        if (static_cast<int>(d.kept.size()) < keep) {
          d.kept.push_back(av::make_frame());
          av_frame_ref(d.kept.back().get(), frame.get());
        }
        av_frame_unref(frame.get());
      }
    };
    while (av_read_frame(raw, packet.get()) >= 0) {
      if (packet->stream_index == index) {
        if (avcodec_send_packet(decoder.get(), packet.get()) < 0) {
          ++d.refused;
          if (auto why = budget ? budget->take_refusal() : std::nullopt) d.reasons.push_back(*why);
        }
        receive();
      }
      av_packet_unref(packet.get());
    }
    avcodec_send_packet(decoder.get(), nullptr);
    receive();
    if (!budget) return d;
    EXPECT_LE(budget->held_bytes(), max_bytes);
    d.peak_bytes = budget->peak_bytes();
  }
  // The decoder is gone; the kept pictures still hold their bytes (and the budget).
  d.held_at_end = budget->held_bytes();
  budget.reset();
  return d;
}

TEST(PictureMemoryBudget, SixteenReferencesFitALargeEnoughBudget) {
  const Decoded unbounded = decode_clip(0, 0);
  ASSERT_GE(unbounded.pictures, 25);
  const Decoded d = decode_clip(64 << 20, 0);
  EXPECT_EQ(d.pictures, unbounded.pictures);
  EXPECT_EQ(d.refused, 0);
  EXPECT_TRUE(d.reasons.empty());
  // The decoder held its 16 references and the picture being decoded.
  EXPECT_GE(d.peak_bytes, 17 * kPictureBytes);
  EXPECT_LE(d.peak_bytes, 64 << 20);
  EXPECT_EQ(d.held_at_end, 0);
}

TEST(PictureMemoryBudget, SixteenReferencesPastTheBudgetAreRefusedAndSaidSo) {
  const int64_t budget = int64_t{4} << 20;  // room for about eleven pictures
  const Decoded d = decode_clip(budget, 0);
  EXPECT_GT(d.refused, 0);
  EXPECT_LT(d.pictures, 25);
  EXPECT_LE(d.peak_bytes, budget);
  ASSERT_FALSE(d.reasons.empty());
  EXPECT_NE(d.reasons[0].find("the decoder's 640x360 yuv420p pictures ("), std::string::npos) << d.reasons[0];
  EXPECT_NE(d.reasons[0].find("would take more than the 4 MiB a video decoder may hold"), std::string::npos)
      << d.reasons[0];
  EXPECT_EQ(d.held_at_end, 0);
}

// Pictures a caller keeps count against the decoder's budget, and stay valid (and
// counted) after the decoder is closed, until released.
TEST(PictureMemoryBudget, KeptPicturesOutliveTheDecoderAndTheirBytesAreReturned) {
  Decoded d = decode_clip(64 << 20, 3);
  ASSERT_EQ(d.kept.size(), 3u);
  EXPECT_GE(d.held_at_end, 3 * kPictureBytes);
  int64_t sum = 0;
  for (const av::FramePtr& f : d.kept) {
    ASSERT_EQ(f->width, kWidth);
    for (int y = 0; y < kHeight; ++y) sum += f->data[0][y * f->linesize[0] + kWidth - 1];  // ASan checks the reads
  }
  EXPECT_GT(sum, 0);
  d.kept.clear();  // the last references: the wrappers release into a pool already gone
}

}  // namespace
}  // namespace callrec::engine
