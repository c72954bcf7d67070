#include "video_packet_decoder.h"

#include "callrec/core/error.h"
#include "decoding_loop.h"
#include "media_limits.h"

namespace callrec::engine {
namespace {

const char* codec_name(VideoCodec codec) { return codec == VideoCodec::kH264 ? "H.264" : "VP8"; }

}  // namespace

av::CodecContextPtr open_video_decoder(VideoCodec codec) {
  const AVCodec* decoder = avcodec_find_decoder(codec == VideoCodec::kH264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_VP8);
  if (decoder == nullptr) throw Error(std::string("this FFmpeg has no ") + codec_name(codec) + " decoder");
  av::CodecContextPtr context(avcodec_alloc_context3(decoder));
  if (!context) throw Error(std::string("out of memory opening the ") + codec_name(codec) + " decoder");
  // Many participants decode at once: one thread each keeps the cores for the encoder.
  context->thread_count = 1;
  // The bitstream decides the picture size: the decoder refuses to allocate past this.
  context->max_pixels = MediaLimits::kMaxPicturePixels;
  check_av(avcodec_open2(context.get(), decoder, nullptr), std::string("opening the ") + codec_name(codec) + " decoder");
  return context;
}

bool is_keyframe(VideoCodec codec, std::span<const uint8_t> frame) {
  if (codec == VideoCodec::kVp8) {
    // RFC 6386 9.1: the frame tag's lowest bit is 0 for a key frame, whose tag is
    // followed by the start code 9d 01 2a.
    return frame.size() >= 6 && (frame[0] & 1) == 0 && frame[3] == 0x9d && frame[4] == 0x01 && frame[5] == 0x2a;
  }
  // Annex B: a NAL unit follows each 00 00 01; type 5 is a slice of an IDR picture.
  for (size_t i = 0; i + 3 < frame.size(); ++i) {
    if (frame[i] == 0 && frame[i + 1] == 0 && frame[i + 2] == 1) {
      if ((frame[i + 3] & 0x1f) == 5) return true;
      i += 2;
    }
  }
  return false;
}

VideoPacketDecoder::VideoPacketDecoder(VideoDecoderOpener opener, int64_t max_picture_bytes)
    : opener_(std::move(opener)),
      max_picture_bytes_(max_picture_bytes),
      packet_(av::make_packet()),
      picture_(av::make_frame()) {}

void VideoPacketDecoder::reset() {
  context_.reset();
  picture_budget_.reset();
  codec_.reset();
  time_base_.reset();
  waiting_for_keyframe_ = true;
  last_request_.reset();
  retry_open_at_.reset();
}

VideoPacketDecoder::Result VideoPacketDecoder::decode(VideoCodec codec, std::span<const uint8_t> padded, size_t size,
                                                      MediaTime at,
                                                      const std::function<void(const AVFrame&, MediaTime)>& on_picture) {
  Result result;
  if (!context_ || codec_ != codec) {
    if (retry_open_at_ && codec_ == codec && at < *retry_open_at_) {
      result.problem = std::string(codec_name(codec)) + " frame dropped: the decoder could not be opened";
      return result;
    }
    reset();
    codec_ = codec;
    try {
      context_ = opener_(codec);
      // The size limit does not bound what the pictures hold together (see
      // PictureMemoryBudget): this does.
      picture_budget_ = PictureMemoryBudget::install(*context_, max_picture_bytes_);
    } catch (const Error& e) {
      // Tried again a second of media later: an open that fails keeps failing for a while.
      retry_open_at_ = at + MediaTime::from_ms(1000);
      result.problem = std::string(codec_name(codec)) + " frame dropped: " + e.what();
      return result;
    }
  }
  const bool key = is_keyframe(codec, padded.first(size));
  if (waiting_for_keyframe_ && !key) {
    if (!last_request_ || at - *last_request_ >= kKeyframeRequestInterval || at < *last_request_) {
      result.keyframe_wanted = true;
      last_request_ = at;
    }
    // A VP8 decoder cannot start from anything else; H.264 may recover without an IDR
    // picture (recovery points), so it is given the frame.
    if (codec == VideoCodec::kVp8) {
      result.problem = "VP8 frame dropped: waiting for a keyframe";
      return result;
    }
  }
  if (!time_base_) time_base_ = at.time_base();
  AVPacket* p = packet_.get();
  av_packet_unref(p);
  p->data = const_cast<uint8_t*>(padded.data());
  p->size = static_cast<int>(size);
  p->pts = at.rescaled(*time_base_).ticks();
  p->dts = AV_NOPTS_VALUE;
  if (key) p->flags |= AV_PKT_FLAG_KEY;
  const Rational time_base = *time_base_;
  const DecodeResult decoded = run_decoding_loop(*context_, p, *picture_, [&](AVFrame& picture) {
    const MediaTime shown = picture.best_effort_timestamp != AV_NOPTS_VALUE
                                ? MediaTime(picture.best_effort_timestamp, time_base)
                                : at;
    try {
      on_picture(picture, shown);
      ++result.pictures;
    } catch (const Error& e) {
      result.problem = std::string(codec_name(codec)) + " picture dropped: " + e.what();
    }
    return true;
  });
  av_packet_unref(p);
  if (decoded.status == DecodeStatus::kSendFailed || decoded.status == DecodeStatus::kReceiveFailed) {
    result.decode_error = true;
    const std::optional<std::string> refused = picture_budget_->take_refusal();
    result.problem = std::string(codec_name(codec)) + " frame could not be decoded (" +
                     (refused ? *refused : av_error_text(decoded.averror)) + ")";
    // Refused pictures: the decoder lets go of those it holds until a keyframe restarts it.
    if (refused) avcodec_flush_buffers(context_.get());
    // Its reference pictures may be gone: what follows needs a keyframe.
    waiting_for_keyframe_ = true;
    if (!last_request_ || at - *last_request_ >= kKeyframeRequestInterval || at < *last_request_) {
      result.keyframe_wanted = true;
      last_request_ = at;
    }
  }
  if (decoded.frames > 0 && !result.decode_error) waiting_for_keyframe_ = false;
  return result;
}

}  // namespace callrec::engine
