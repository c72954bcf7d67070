#include "reuse_weighting.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/avutil.h>
}

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "video_encoder.h"

namespace callrec::muxer {
namespace {

const int kQuietLibav = [] {
  av_log_set_level(AV_LOG_ERROR);
  return 0;
}();

constexpr int kMbColumns = kVideoWidth / 16;
constexpr int kMbRows = (kVideoHeight + 15) / 16;

// A conference-like picture sequence: a still, detailed background (random grey per
// 4x4 block), +-2 sensor noise on every sample of every picture, and a 256x256 "face"
// at (512, 256) whose content is new in every picture.
class GridSource {
 public:
  GridSource() : picture_(av::make_frame()), random_(7) {
    picture_->format = AV_PIX_FMT_YUV420P;
    picture_->width = kVideoWidth;
    picture_->height = kVideoHeight;
    check_av(av_frame_get_buffer(picture_.get(), 0), "test picture");
    background_.resize(static_cast<size_t>(kVideoWidth / 4) * (kVideoHeight / 4));
    std::uniform_int_distribution<int> grey(40, 215);
    for (auto& v : background_) v = static_cast<uint8_t>(grey(random_));
  }

  static bool in_face(int x, int y) { return x >= 512 && x < 768 && y >= 256 && y < 512; }

  AVFrame& next() {
    check_av(av_frame_make_writable(picture_.get()), "test picture writable");
    std::uniform_int_distribution<int> noise(-2, 2);
    std::uniform_int_distribution<int> face(30, 225);
    for (int y = 0; y < kVideoHeight; ++y) {
      uint8_t* row = picture_->data[0] + static_cast<ptrdiff_t>(y) * picture_->linesize[0];
      for (int x = 0; x < kVideoWidth; ++x) {
        const int base = in_face(x, y) ? face(random_)
                                       : background_[static_cast<size_t>(y / 4) * (kVideoWidth / 4) + x / 4];
        row[x] = static_cast<uint8_t>(std::clamp(base + noise(random_), 0, 255));
      }
    }
    for (int plane = 1; plane < 3; ++plane) {
      for (int y = 0; y < kVideoHeight / 2; ++y) {
        std::fill_n(picture_->data[plane] + static_cast<ptrdiff_t>(y) * picture_->linesize[plane], kVideoWidth / 2, 128);
      }
    }
    return *picture_;
  }

 private:
  av::FramePtr picture_;
  std::mt19937 random_;
  std::vector<uint8_t> background_;
};

float offset_at(const ReuseWeighting& weighting, int mbx, int mby) {
  return weighting.offsets()[static_cast<size_t>(mby) * weighting.macroblock_columns() + mbx];
}

TEST(ReuseWeighting, StillBlocksGetLowerQuantizersThanChangingOnes) {
  GridSource source;
  ReuseWeighting weighting(kVideoWidth, kVideoHeight, 2.0);

  // Nothing to compare the first picture with: it gets the offsets of a block reused at
  // the assumed share, the same everywhere.
  AVFrame& first = source.next();
  weighting.annotate(first);
  EXPECT_NE(av_frame_get_side_data(&first, AV_FRAME_DATA_REGIONS_OF_INTEREST), nullptr);
  EXPECT_LT(offset_at(weighting, 1, 2), -4.0);
  EXPECT_EQ(offset_at(weighting, 1, 2), offset_at(weighting, 40, 20)) << "the face is not known yet";

  for (int k = 1; k < 6; ++k) {
    AVFrame& picture = source.next();
    weighting.annotate(picture);
    const AVFrameSideData* side = av_frame_get_side_data(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST);
    ASSERT_NE(side, nullptr);
    ASSERT_EQ(side->size, sizeof(AVRegionOfInterest) * kMbColumns * kMbRows);
    ASSERT_EQ(av_frame_get_side_data(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST), side) << "one set, replaced";
    // The regions tile the picture in macroblocks and carry offsets() in libx264's units
    // (a fraction of its 51-step QP range).
    const auto* regions = reinterpret_cast<const AVRegionOfInterest*>(side->data);
    const AVRegionOfInterest& last = regions[kMbColumns * kMbRows - 1];
    EXPECT_EQ(last.left, kVideoWidth - 16);
    EXPECT_EQ(last.right, kVideoWidth);
    EXPECT_EQ(last.top, (kMbRows - 1) * 16);
    EXPECT_EQ(last.bottom, kVideoHeight);
    const AVRegionOfInterest& sample = regions[20 * kMbColumns + 100];
    EXPECT_EQ(sample.top, 20 * 16);
    EXPECT_EQ(sample.left, 100 * 16);
    EXPECT_NEAR(av_q2d(sample.qoffset) * 51, offset_at(weighting, 100, 20), 0.01);
  }

  // The background: reused almost whole by every picture (only the noise changes), so
  // close to the macroblock tree's offset for a block reused over the whole horizon:
  // -2 * log2(1 + 10) = -6.9. The face, new in every picture: close to 0.
  for (int mby : {2, 20, kMbRows - 1}) {
    for (int mbx : {1, 60, kMbColumns - 1}) {
      EXPECT_LT(offset_at(weighting, mbx, mby), -4.5) << "background block " << mbx << "," << mby;
    }
  }
  for (int mby = 256 / 16; mby < 512 / 16; mby += 5) {
    for (int mbx = 512 / 16; mbx < 768 / 16; mbx += 5) {
      EXPECT_GT(offset_at(weighting, mbx, mby), -1.0) << "face block " << mbx << "," << mby;
    }
  }
}

TEST(ReuseWeighting, RejectsAPictureOfAnotherSize) {
  ReuseWeighting weighting(kVideoWidth, kVideoHeight, 2.0);
  av::FramePtr small = av::make_frame();
  small->format = AV_PIX_FMT_YUV420P;
  small->width = 640;
  small->height = 360;
  check_av(av_frame_get_buffer(small.get(), 0), "small picture");
  EXPECT_THROW(weighting.annotate(*small), Error);
}

// PSNR of the luma of the decoded pictures against the source's, and bytes written.
struct EncodeResult {
  double psnr_db = 0;
  double background_psnr_db = 0;
  int64_t bytes = 0;
};

// An H.264 decoder for `encoder`'s stream. SPS/PPS are in the encoder's extradata (MP4
// style): handed over as a muxer would.
av::CodecContextPtr open_decoder_for(VideoEncoder& encoder) {
  const AVCodec* h264 = avcodec_find_decoder(AV_CODEC_ID_H264);
  av::CodecContextPtr decoder(avcodec_alloc_context3(h264));
  decoder->thread_count = 1;
  std::unique_ptr<AVCodecParameters, void (*)(AVCodecParameters*)> parameters(
      avcodec_parameters_alloc(), [](AVCodecParameters* p) { avcodec_parameters_free(&p); });
  check_av(avcodec_parameters_from_context(parameters.get(), &encoder.context()), "test encoder parameters");
  check_av(avcodec_parameters_to_context(decoder.get(), parameters.get()), "test decoder parameters");
  check_av(avcodec_open2(decoder.get(), h264, nullptr), "test decoder");
  return decoder;
}

EncodeResult encode_grid(bool reuse_weighting, int pictures, double crf) {
  EncoderSettings settings;
  settings.video_reuse_weighting = reuse_weighting;
  VideoEncoder encoder(settings, kDefaultMaxChunkBytes, "test encoder");
  std::unique_ptr<ReuseWeighting> weighting = VideoEncoder::make_reuse_weighting(settings);
  EXPECT_EQ(weighting != nullptr, reuse_weighting);

  av::CodecContextPtr decoder = open_decoder_for(encoder);
  av::FramePtr decoded = av::make_frame();

  GridSource source;
  std::vector<std::vector<uint8_t>> sources;
  EncodeResult result;
  double squared_error = 0, background_squared_error = 0;
  int64_t samples = 0, background_samples = 0;
  size_t next_compared = 0;
  auto receive = [&] {
      while (avcodec_receive_frame(decoder.get(), decoded.get()) == 0) {
        const std::vector<uint8_t>& luma = sources.at(next_compared++);
        for (int y = 0; y < kVideoHeight; ++y) {
          const uint8_t* row = decoded->data[0] + static_cast<ptrdiff_t>(y) * decoded->linesize[0];
          for (int x = 0; x < kVideoWidth; ++x) {
            const double d = row[x] - luma[static_cast<size_t>(y) * kVideoWidth + x];
            squared_error += d * d;
            ++samples;
            if (!GridSource::in_face(x, y)) {
              background_squared_error += d * d;
              ++background_samples;
            }
          }
        }
      }
  };
  auto take = [&](const Packets& packets) {
    for (const auto& packet : packets) {
      result.bytes += packet->size;
      check_av(avcodec_send_packet(decoder.get(), packet.get()), "test decode");
      receive();
    }
  };
  for (int k = 0; k < pictures; ++k) {
    AVFrame& picture = source.next();
    std::vector<uint8_t> luma(static_cast<size_t>(kVideoWidth) * kVideoHeight);
    for (int y = 0; y < kVideoHeight; ++y) {
      std::copy_n(picture.data[0] + static_cast<ptrdiff_t>(y) * picture.linesize[0], kVideoWidth,
                  &luma[static_cast<size_t>(y) * kVideoWidth]);
    }
    sources.push_back(std::move(luma));
    if (weighting) weighting->annotate(picture);
    take(encoder.encode(picture, crf));
  }
  take(encoder.flush());
  check_av(avcodec_send_packet(decoder.get(), nullptr), "test decode flush");
  receive();  // what the decoder held back to reorder B-frames
  EXPECT_EQ(next_compared, sources.size());
  auto psnr = [](double sse, int64_t n) { return 10 * std::log10(255.0 * 255.0 * n / sse); };
  result.psnr_db = psnr(squared_error, samples);
  result.background_psnr_db = psnr(background_squared_error, background_samples);
  return result;
}

// What it is for: for the same bits, the still background is coded better (once, then
// reused) instead of being coded over and over with the noise, and the picture as a
// whole gains. The offsets lower the quantizer, so at one CRF the weighted encode spends
// more: it is compared at the first CRF (in steps of 2) where it spends no more.
TEST(ReuseWeighting, RaisesPictureQualityForTheSameBits) {
  constexpr int kPictures = 24;
  constexpr double kCrf = 30;
  const EncodeResult without = encode_grid(false, kPictures, kCrf);
  std::optional<EncodeResult> with;
  for (double crf = kCrf; crf <= kCrf + 10 && !with; crf += 2) {
    const EncodeResult r = encode_grid(true, kPictures, crf);
    std::printf("with, CRF %.0f: %.2f dB (background %.2f), %lld bytes\n", crf, r.psnr_db, r.background_psnr_db,
                static_cast<long long>(r.bytes));
    if (r.bytes <= without.bytes) with = r;
  }
  std::printf("without, CRF %.0f: %.2f dB (background %.2f), %lld bytes\n", kCrf, without.psnr_db,
              without.background_psnr_db, static_cast<long long>(without.bytes));
  ASSERT_TRUE(with.has_value()) << "the weighted encode never came down to the bytes of the unweighted one";
  EXPECT_GT(with->background_psnr_db, without.background_psnr_db + 0.3);
  EXPECT_GT(with->psnr_db, without.psnr_db + 0.2);
}

// Without a lookahead the encoder fixes the picture types: a keyframe every interval,
// two B-frames before each P-frame, P-frames where no reference would follow within the
// interval; only the references get the reuse offsets (nothing predicts from a
// B-frame). The decoder reads the types back; the stream ends on B-frames (the encoder
// is flushed after them) and every picture still comes out.
TEST(ReuseWeighting, GoesOnTheReferencesOfTheEncodersFixedPattern) {
  EncoderSettings settings;
  settings.keyframe_interval_s = 2;  // 16 pictures
  settings.video_bframes = 2;
  VideoEncoder encoder(settings, kDefaultMaxChunkBytes, "test encoder");
  av::CodecContextPtr decoder = open_decoder_for(encoder);
  av::FramePtr decoded = av::make_frame();
  std::string types;  // in presentation order
  auto take = [&](const Packets& packets) {
    for (const auto& packet : packets) check_av(avcodec_send_packet(decoder.get(), packet.get()), "test decode");
    while (avcodec_receive_frame(decoder.get(), decoded.get()) == 0) {
      types += av_get_picture_type_char(decoded->pict_type);
    }
  };

  constexpr int kPictures = 35;  // the last two after a P-frame: B-frames without one after
  GridSource source;
  ReuseWeighting weighting(kVideoWidth, kVideoHeight, 2.0);
  std::string offsets;  // '+' where x264 got the picture with quantizer offsets
  for (int k = 0; k < kPictures; ++k) {
    AVFrame& picture = source.next();
    weighting.annotate(picture);
    take(encoder.encode(picture, 23));
    offsets += encoder.last_picture_had_offsets() ? '+' : '.';
    EXPECT_NE(av_frame_get_side_data(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST), nullptr)
        << "picture " << k << ": the offsets held back from x264 are put back";
  }
  take(encoder.flush());
  check_av(avcodec_send_packet(decoder.get(), nullptr), "test decode flush");
  take({});

  ASSERT_EQ(types.size(), static_cast<size_t>(kPictures)) << types;
  //                                   0               16              32
  EXPECT_EQ(types.substr(0, 33), std::string("IBBPBBPBBPBBPBBP") + "IBBPBBPBBPBBPBBP" + "I") << types;
  EXPECT_EQ(offsets.substr(0, 33), std::string("+..+..+..+..+..+") + "+..+..+..+..+..+" + "+") << offsets;
}

}  // namespace
}  // namespace callrec::muxer
