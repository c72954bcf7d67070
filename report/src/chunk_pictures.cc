#include "chunk_pictures.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "callrec/core/error.h"
#include "chunk_stream_reader.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace callrec::report {
namespace {

// Half an output period: a picture this close to the wanted time is the one shown there.
constexpr int64_t kHalfPeriodMs = 62;

// Scales pictures down and encodes them as JPEG, with one scaler and one encoder.
class JpegMaker {
 public:
  JpegMaker(int width, int quality) : width_(width & ~1), quality_(quality), scaled_(av::make_frame()) {
    packet_ = av::make_packet();
  }

  std::string encode(const AVFrame& picture) {
    const int height = std::max(2, static_cast<int>(int64_t{width_} * picture.height / std::max(1, picture.width)) & ~1);
    if (!encoder_ || encoder_->height != height) open(height);
    scaler_.reset(sws_getCachedContext(scaler_.release(), picture.width, picture.height,
                                       static_cast<AVPixelFormat>(picture.format), width_, height, AV_PIX_FMT_YUVJ420P,
                                       SWS_AREA, nullptr, nullptr, nullptr));
    if (!scaler_) throw Error("cannot scale a picture of the chunk");
    check_av(av_frame_make_writable(scaled_.get()), "preparing a contact-sheet picture");
    sws_scale(scaler_.get(), picture.data, picture.linesize, 0, picture.height, scaled_->data, scaled_->linesize);
    scaled_->quality = encoder_->global_quality;
    scaled_->pts = serial_++;
    check_av(avcodec_send_frame(encoder_.get(), scaled_.get()), "encoding a contact-sheet picture");
    check_av(avcodec_receive_packet(encoder_.get(), packet_.get()), "encoding a contact-sheet picture");
    std::string out(reinterpret_cast<const char*>(packet_->data), static_cast<size_t>(packet_->size));
    av_packet_unref(packet_.get());
    return out;
  }

 private:
  void open(int height) {
    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec) throw Error("FFmpeg has no MJPEG encoder");
    encoder_.reset(avcodec_alloc_context3(codec));
    if (!encoder_) throw Error("out of memory opening the JPEG encoder");
    encoder_->width = width_;
    encoder_->height = height;
    encoder_->pix_fmt = AV_PIX_FMT_YUVJ420P;
    encoder_->time_base = AVRational{1, 8};
    encoder_->flags |= AV_CODEC_FLAG_QSCALE;
    encoder_->global_quality = FF_QP2LAMBDA * std::clamp(quality_, 2, 31);
    check_av(avcodec_open2(encoder_.get(), codec, nullptr), "opening the JPEG encoder");
    av_frame_unref(scaled_.get());
    scaled_->format = AV_PIX_FMT_YUVJ420P;
    scaled_->width = width_;
    scaled_->height = height;
    check_av(av_frame_get_buffer(scaled_.get(), 0), "allocating a contact-sheet picture");
  }

  int width_;
  int quality_;
  int64_t serial_ = 0;
  av::CodecContextPtr encoder_;
  av::SwsPtr scaler_;
  av::FramePtr scaled_;
  av::PacketPtr packet_;
};

}  // namespace

ChunkPictures sample_chunk_pictures(const std::filesystem::path& mp4, const std::vector<int64_t>& wanted_ms,
                                    const PictureOptions& options) {
  ChunkPictures out;
  if (wanted_ms.empty()) return out;
  ChunkStreamReader reader(mp4, AVMEDIA_TYPE_VIDEO);
  const std::vector<ChunkStreamReader::Keyframe> keyframes = reader.keyframes();
  JpegMaker jpeg(options.width, options.jpeg_quality);

  std::optional<int64_t> last_ms;  // the last picture decoded (the reader is just past it)
  for (const int64_t wanted : wanted_ms) {
    // The keyframe nearest to the wanted time, and the one at or before it.
    const ChunkStreamReader::Keyframe* nearest = nullptr;
    const ChunkStreamReader::Keyframe* before = nullptr;
    for (const auto& k : keyframes) {
      if (!nearest || std::llabs(k.ms - wanted) < std::llabs(nearest->ms - wanted)) nearest = &k;
      if (k.ms <= wanted + kHalfPeriodMs) before = &k;
    }
    int64_t target = wanted;
    const ChunkStreamReader::Keyframe* start = before;
    if (nearest && std::llabs(nearest->ms - wanted) <= options.snap_ms) {
      target = nearest->ms;
      start = nearest;
    }
    if (!out.pictures.empty() && std::llabs(out.pictures.back().ms - target) <= kHalfPeriodMs) continue;
    // Decoding on from where the reader is beats a seek when no keyframe lies between.
    const bool decode_on = last_ms && *last_ms < target - kHalfPeriodMs && (!start || start->ms <= *last_ms);
    if (!decode_on) {
      if (start) reader.seek(start->stream_ts);
      else reader.seek(0);
    }
    const AVFrame* shown = nullptr;
    reader.skip_unreferenced_before(target - kHalfPeriodMs);
    for (;;) {
      const AVFrame* f = reader.next_frame();
      if (!f) break;
      last_ms = reader.frame_ms(*f);
      shown = f;
      if (*last_ms >= target - kHalfPeriodMs) break;
    }
    if (!shown) continue;  // nothing decodable from there on
    const int64_t shown_ms = reader.frame_ms(*shown);
    if (!out.pictures.empty() && out.pictures.back().ms == shown_ms) continue;
    out.pictures.push_back(ChunkPicture{shown_ms, wanted, jpeg.encode(*shown)});
  }
  out.frames_decoded = reader.frames_decoded();
  out.damaged = reader.packets_damaged();
  return out;
}

}  // namespace callrec::report
