// The send/receive loop of a libavcodec decoder, written once for both drivers (the
// offline driver's MediaInput and the live session's VideoPacketDecoder), as Chromium's
// FFmpegDecodingLoop is: send one packet (or nullptr to drain), then receive every
// frame it releases until the decoder asks for more input, has no more, or fails.
//
// Threading: used on the thread that owns the decoder.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
}

namespace callrec::engine {

enum class DecodeStatus {
  kOk,             // the packet was taken and every frame it released was handed on
  kSendFailed,     // the decoder refused the packet (corrupt): nothing was decoded
  kReceiveFailed,  // a frame failed to decode (frames before it were handed on)
  kStopped,        // on_frame asked to stop; frames left in the decoder come next time
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kOk;
  int averror = 0;  // the libav error of kSendFailed / kReceiveFailed
  int frames = 0;   // frames handed to on_frame
};

// Sends `packet` (nullptr: end of stream, drains the decoder) and calls
// `on_frame(frame)` with each frame decoded into `frame` (a scratch frame the caller
// owns; unreferenced after each call, so on_frame refs what it keeps). on_frame returns
// false to stop receiving.
template <typename OnFrame>
DecodeResult run_decoding_loop(AVCodecContext& decoder, const AVPacket* packet, AVFrame& frame, OnFrame&& on_frame) {
  DecodeResult result;
  const int sent = avcodec_send_packet(&decoder, packet);
  // AVERROR_EOF: the decoder was drained before; there is nothing more to receive.
  if (sent == AVERROR_EOF) return result;
  if (sent < 0) return {DecodeStatus::kSendFailed, sent, 0};
  for (;;) {
    const int received = avcodec_receive_frame(&decoder, &frame);
    if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) return result;
    if (received < 0) return {DecodeStatus::kReceiveFailed, received, result.frames};
    ++result.frames;
    const bool go_on = on_frame(frame);
    av_frame_unref(&frame);
    if (!go_on) {
      result.status = DecodeStatus::kStopped;
      return result;
    }
  }
}

}  // namespace callrec::engine
