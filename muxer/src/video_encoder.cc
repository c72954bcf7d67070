#include "video_encoder.h"

#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
}

#include "callrec/core/error.h"
#include "scoped_dictionary.h"

namespace callrec::muxer {
namespace {

// Keyframe interval: 4 s. A viewer seeking in a downloaded chunk lands at most 4 s
// from the wanted point, while at 8 fps a longer GOP would save little: most of the
// bits of conferencing content go to the few frames where someone moves.
constexpr int kKeyframeIntervalFrames = 4 * kFrameRate;

}  // namespace

void check_canvas(const AVFrame& canvas) {
  if (canvas.width != kVideoWidth || canvas.height != kVideoHeight ||
      canvas.format != AV_PIX_FMT_YUV420P) {
    const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(canvas.format));
    throw Error("muxer: canvas must be 1920x1080 yuv420p, got " + std::to_string(canvas.width) +
                "x" + std::to_string(canvas.height) + " " + (name != nullptr ? name : "unknown"));
  }
}

VideoEncoder::VideoEncoder(const EncoderSettings& settings, std::string what)
    : what_(std::move(what)), frame_(av::make_frame()) {
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (codec == nullptr) throw Error(what_ + ": libavcodec was built without libx264");
  context_.reset(avcodec_alloc_context3(codec));
  if (!context_) throw Error(what_ + ": out of memory allocating the H.264 encoder");

  AVCodecContext& c = *context_;
  c.width = kVideoWidth;
  c.height = kVideoHeight;
  c.pix_fmt = AV_PIX_FMT_YUV420P;
  c.time_base = AVRational{kVideoTimeBase.num, kVideoTimeBase.den};
  c.framerate = AVRational{kFrameRate, 1};
  c.sample_aspect_ratio = AVRational{1, 1};
  c.gop_size = kKeyframeIntervalFrames;
  c.keyint_min = kFrameRate;  // scene cuts (a layout change) may start a GOP early
  // ABR with a VBV cap: the average follows the configured rate (which is what the
  // metadata promises and what the chunk budget plans with), and VBV bounds the burst
  // when many faces move at once, so no packet is far above the rate's share.
  c.bit_rate = settings.video_bitrate_bps;
  c.rc_max_rate = settings.video_bitrate_bps;
  c.rc_buffer_size = settings.video_bitrate_bps * 2;
  c.profile = FF_PROFILE_H264_HIGH;
  c.flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // MP4 keeps SPS/PPS in avcC, not in-band

  ScopedDictionary options;
  // veryfast: at 8 fps a 1080p stream is cheap per second, but a recording server runs
  // many calls; veryfast keeps the motion search and CABAC that matter for mostly
  // static faces while skipping the expensive partition/trellis analysis, whose gains
  // are small on this content.
  options.set("preset", "veryfast");
  // zerolatency (no B-frames, no lookahead, sliced threads, no frame-thread delay): each
  // frame's packet comes out of the encoder before the next period. The chunk byte
  // budget therefore works with exact packet sizes instead of estimates of bytes still
  // inside the encoder, a period that does not fit can be re-encoded as the keyframe of
  // the next chunk, and every encoded frame is on disk at once (crash recovery loses at
  // most the frames after the last flush). The price — no B-frames — costs a few percent
  // of efficiency at 8 fps, where consecutive frames are 125 ms apart and B-frames help
  // less than at 30 fps.
  options.set("tune", "zerolatency");
  options.set("profile", "high");
  check_av(avcodec_open2(&c, codec, options.address()), what_ + ": opening the H.264 encoder");

  frame_->format = AV_PIX_FMT_YUV420P;
  frame_->width = kVideoWidth;
  frame_->height = kVideoHeight;
  check_av(av_frame_get_buffer(frame_.get(), 0), what_ + ": allocating the video frame");
}

void VideoEncoder::send(const AVFrame& canvas) {
  check_canvas(canvas);
  // Only reallocates when the encoder still holds a reference to the previous copy
  // (it does not with zerolatency: x264 copies the picture on encode).
  check_av(av_frame_make_writable(frame_.get()), what_ + ": making the video frame writable");
  check_av(av_frame_copy(frame_.get(), &canvas), what_ + ": copying the canvas");
  send_own_frame();
}

void VideoEncoder::send_own_frame() {
  frame_->pts = frames_sent_;
  frame_->pict_type = AV_PICTURE_TYPE_NONE;
  send_frame(*context_, frame_.get(), what_);
  ++frames_sent_;
}

void VideoEncoder::flush() { send_frame(*context_, nullptr, what_); }

ReceiveStatus VideoEncoder::receive(AVPacket& packet) { return receive_packet(*context_, packet, what_); }

}  // namespace callrec::muxer
