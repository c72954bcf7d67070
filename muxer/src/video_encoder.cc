#include "video_encoder.h"

#include <algorithm>
#include <cstdint>
#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include "callrec/core/error.h"
#include "scoped_dictionary.h"

namespace callrec::muxer {
namespace {

constexpr int kMaxKeyframeIntervalS = 60;

// x264's CRF scale at 8 bits.
constexpr int kMaxQuality = 51;

// Each picture of lookahead is about 9 MB inside x264 and 125 ms more between a period
// and the file; past 2 s the macroblock tree gains nothing measurable at 8 fps.
constexpr int kMaxLookaheadFrames = 16;

// Each B-frame holds one more picture (and its 3 MB copy in the writer) until the
// reference after it is coded; past three the gain at 8 fps is gone.
constexpr int kMaxBframes = 3;

// The type of picture `picture` (counted from the encoder's first) in the fixed
// pattern: a keyframe at each interval, then `bframes` B-frames before each P-frame,
// and P-frames where no reference would follow within the interval (the GOP is closed).
AVPictureType fixed_picture_type(int64_t picture, int bframes, int64_t keyframe_interval) {
  const int64_t position = picture % keyframe_interval;
  if (position == 0) return AV_PICTURE_TYPE_I;
  const int64_t references_every = bframes + 1;
  const int64_t next_reference = (position + references_every - 1) / references_every * references_every;
  return next_reference != position && next_reference < keyframe_interval ? AV_PICTURE_TYPE_B : AV_PICTURE_TYPE_P;
}

}  // namespace

void check_canvas(const AVFrame& canvas) {
  if (canvas.width != kVideoWidth || canvas.height != kVideoHeight ||
      canvas.format != AV_PIX_FMT_YUV420P) {
    const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(canvas.format));
    throw Error("muxer: canvas must be 1920x1080 yuv420p, got " + std::to_string(canvas.width) +
                "x" + std::to_string(canvas.height) + " " + (name != nullptr ? name : "unknown"));
  }
}

VideoEncoder::VideoEncoder(const EncoderSettings& settings, uint64_t max_chunk_bytes, std::string what)
    : what_(std::move(what)) {
  if (settings.video_lookahead_frames < 0 || settings.video_lookahead_frames > kMaxLookaheadFrames) {
    throw Error(what_ + ": video lookahead must be 0 to " + std::to_string(kMaxLookaheadFrames) + " pictures, got " +
                std::to_string(settings.video_lookahead_frames));
  }
  if (settings.keyframe_interval_s < 1 || settings.keyframe_interval_s > kMaxKeyframeIntervalS) {
    throw Error(what_ + ": keyframe interval must be 1 to " + std::to_string(kMaxKeyframeIntervalS) + " s, got " +
                std::to_string(settings.keyframe_interval_s));
  }
  if (settings.video_bframes < 0 || settings.video_bframes > kMaxBframes) {
    throw Error(what_ + ": B-frames must be 0 to " + std::to_string(kMaxBframes) + ", got " +
                std::to_string(settings.video_bframes));
  }
  if (settings.video_quality < 0 || settings.video_quality > kMaxQuality) {
    throw Error(what_ + ": video quality must be 0 to " + std::to_string(kMaxQuality) + ", got " +
                std::to_string(settings.video_quality));
  }
  if (settings.video_rate_control != VideoRateControl::kQuality && settings.video_bitrate_bps <= 0) {
    throw Error(what_ + ": video bit rate must be positive, got " + std::to_string(settings.video_bitrate_bps));
  }
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
  c.gop_size = settings.keyframe_interval_s * kFrameRate;
  c.keyint_min = kFrameRate;  // with a lookahead, scene cuts (a layout change) may start a GOP early
  // Constant quality (x264's CRF) in every mode: kQuality keeps it, the writer steers it
  // picture by picture for the others (QualitySteering), and kCappedQuality adds x264's
  // VBV as the hard ceiling. x264's own ABR starts from nothing at every encoder (every
  // chunk) and charges a keyframe to the pictures after it (docs/encoder-settings.md).
  // kAverageBitrate gets the VBV too, at twice its rate, as a backstop against content
  // the steering cannot foresee (the first picture, a burst of noise), so that no
  // picture outgrows a chunk: its buffer is two keyframe intervals at the rate, but no
  // more than a quarter of the chunk budget (nor less than kVbvBufferSeconds). x264
  // holds a picture to a fraction of the buffer: a 4 s buffer starved the first
  // keyframe of a detailed grid to a third of its bits, blurring the still background
  // for the 20 s the pictures after it took to sharpen it again.
  c.bit_rate = 0;
  if (settings.video_rate_control != VideoRateControl::kQuality) {
    const int64_t rate = settings.video_bitrate_bps;
    const bool capped = settings.video_rate_control == VideoRateControl::kCappedQuality;
    int64_t buffer_bits = rate * kVbvBufferSeconds;
    if (!capped) {
      // A quarter of the chunk, in bits (bytes x 8 / 4).
      const auto quarter_chunk_bits = static_cast<int64_t>(std::min<uint64_t>(max_chunk_bytes, INT64_MAX / 2) * 2);
      buffer_bits = std::max(buffer_bits, std::min(rate * 2 * settings.keyframe_interval_s, quarter_chunk_bits));
    }
    c.rc_max_rate = std::min<int64_t>(INT32_MAX, capped ? rate : 2 * rate);
    c.rc_buffer_size = static_cast<int>(std::min<int64_t>(INT32_MAX, buffer_bits));
  }
  lossless_ = settings.video_rate_control == VideoRateControl::kQuality && settings.video_quality == 0;
  c.flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // MP4 keeps SPS/PPS in avcC, not in-band

  ScopedDictionary options;
  // veryfast: at 8 fps a 1080p stream is cheap per second, but a recording server runs
  // many calls; veryfast keeps the motion search and CABAC that matter for mostly
  // static faces while skipping the expensive partition/trellis analysis, whose gains
  // are small on this content (docs/performance.md has the table).
  options.set("preset", "veryfast");
  // Steered modes start anywhere above 0 (x264 takes CRF 0 for lossless, another
  // profile); the writer sets the CRF of every picture.
  options.set("crf", std::to_string(lossless_ ? 0 : std::max(1, settings.video_quality)));
  // B-frames are never references (no pyramid): a B-frame as reference keeps one
  // more reconstructed picture inside x264 (+23 MiB with two B-frames) and gained
  // nothing measurable here (docs/performance.md).
  const std::string bframes =
      "bframes=" + std::to_string(settings.video_bframes) + (settings.video_bframes > 1 ? ":b-pyramid=none" : "");
  if (settings.video_lookahead_frames == 0) {
    // zerolatency (no lookahead, no frame-thread delay): each picture is coded in the
    // call that hands it over. Without a lookahead x264 cannot place B-frames well, so
    // the encoder fixes every picture's type itself (fixed_picture_type): a reference
    // picture's packet comes out of the call that hands it over and each B-frame's out
    // of a call after it, and the quantizer offsets go on the references only.
    // With the types fixed, x264's scene-cut detection has nothing to decide, and its
    // weighted prediction (one brightness weight per picture) does not fit a grid of
    // independent cameras: both off, which also spares x264 its half-resolution copy of
    // each picture. One reference, as veryfast has: a second (ref=2) gained 0.04 dB on
    // talking heads and nothing on full motion for 6.5 % more CPU, once the cameras
    // stopped sending a keyframe every 2 s (docs/performance.md).
    // B-frames a step further below their references than x264's default (pbratio 1.3
    // -> 1.45): nothing refers to them, and without x264's macroblock tree their bits
    // buy the least. bench/compare, BD-rate against ffmpeg: full motion +1.0 -> -1.3 %
    // (+0.11 dB at CRF 18's and 23's rates, 0.4 % fewer bits), talking heads -0.7 %
    // either way (docs/encoder-settings.md).
    options.set("tune", "zerolatency");
    options.set("x264-params", bframes + ":weightp=0:scenecut=0" + (settings.video_bframes > 0 ? ":pbratio=1.45" : ""));
    fixed_bframes_ = settings.video_bframes;
  } else {
    // A rate-control lookahead lets x264 run its macroblock tree: the still background
    // of a conference grid is coded well once and then referenced; with B-frames it also
    // places them. One thread: the writer already runs the encoder beside the engine's
    // thread.
    options.set("x264-params", bframes + ":rc-lookahead=" + std::to_string(settings.video_lookahead_frames) +
                                   ":sync-lookahead=0");
  }
  c.thread_count = 1;
  // High (CABAC, 8x8 transforms); a lossless encode is High 4:4:4 Predictive, which x264
  // picks itself.
  if (!lossless_) options.set("profile", "high");
  check_av(avcodec_open2(&c, codec, options.address()), what_ + ": opening the H.264 encoder");
  crf_ = lossless_ ? 0 : std::max(1, settings.video_quality);
}

std::unique_ptr<ReuseWeighting> VideoEncoder::make_reuse_weighting(const EncoderSettings& settings) {
  if (!settings.video_reuse_weighting) return nullptr;
  if (settings.video_rate_control == VideoRateControl::kQuality && settings.video_quality == 0) return nullptr;
  // x264's macroblock-tree strength at its default qcomp (0.6) is 5 * (1 - qcomp) = 2;
  // beside x264's own tree (a lookahead) the estimate only tops up what a short
  // lookahead cannot see (measured: docs/performance.md).
  const double strength = settings.video_lookahead_frames == 0 ? 2.0 : 1.0;
  return std::make_unique<ReuseWeighting>(kVideoWidth, kVideoHeight, strength);
}

Packets VideoEncoder::encode(AVFrame& picture, double crf) {
  check_canvas(picture);
  const AVPictureType type = fixed_bframes_ >= 0
                                 ? fixed_picture_type(frames_sent_, fixed_bframes_, context_->gop_size)
                                 : AV_PICTURE_TYPE_NONE;
  if (!lossless_ && crf != crf_) {
    // libx264 reconfigures x264 with the new rate factor before this picture.
    check_av(av_opt_set_double(context_->priv_data, "crf", crf, 0), what_ + ": setting the H.264 quality");
    crf_ = crf;
  }
  // A B-frame is never a reference: what later pictures reuse does not concern it. Its
  // offsets are held back while x264 takes the picture, and put back after (the picture
  // may be coded again, as a reference, by the next chunk's encoder).
  AVBufferRef* held_offsets = nullptr;
  if (const AVFrameSideData* offsets = av_frame_get_side_data(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST);
      offsets != nullptr && (type == AV_PICTURE_TYPE_B || lossless_)) {
    held_offsets = av_buffer_ref(offsets->buf);
    if (held_offsets == nullptr) throw Error(what_ + ": out of memory holding a picture's quantizer offsets");
    av_frame_remove_side_data(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST);
  }
  last_had_offsets_ = av_frame_get_side_data(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST) != nullptr;
  picture.pts = frames_sent_;
  picture.pict_type = type;
  auto put_back = [&] {
    if (held_offsets != nullptr &&
        av_frame_new_side_data_from_buf(&picture, AV_FRAME_DATA_REGIONS_OF_INTEREST, held_offsets) == nullptr) {
      av_buffer_unref(&held_offsets);
      throw Error(what_ + ": out of memory restoring a picture's quantizer offsets");
    }
  };
  try {
    send_frame(*context_, &picture, what_);
  } catch (...) {
    put_back();
    throw;
  }
  put_back();
  ++frames_sent_;
  return receive_all();
}

Packets VideoEncoder::flush() {
  send_frame(*context_, nullptr, what_);
  return receive_all();
}

Packets VideoEncoder::receive_all() {
  Packets packets;
  while (true) {
    av::PacketPtr packet = av::make_packet();
    if (receive_packet(*context_, *packet, what_) != ReceiveStatus::kPacket) break;
    packets.push_back(std::move(packet));
  }
  return packets;
}

}  // namespace callrec::muxer
