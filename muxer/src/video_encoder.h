// H.264 encoder for the 1920x1080 8 fps canvas (libx264 through libavcodec).
//
// One instance per chunk, so every chunk starts with an IDR frame and pts 0.
// Threading: used by one thread (the writer's).
#pragma once

#include <cstdint>
#include <string>

#include "callrec/core/av.h"
#include "encoder_loop.h"
#include "callrec/muxer/recording_writer.h"

namespace callrec::muxer {

class VideoEncoder {
 public:
  // `what` names the output (a file) in error messages.
  VideoEncoder(const EncoderSettings& settings, std::string what);

  AVCodecContext& context() { return *context_; }
  const AVCodecContext& context() const { return *context_; }

  // Copies `canvas` (1920x1080 yuv420p, owned by the caller and reused by it) into the
  // encoder's own frame and sends it with pts = frames sent so far.
  void send(const AVFrame& canvas);
  void flush();
  ReceiveStatus receive(AVPacket& packet);

  int64_t frames_sent() const { return frames_sent_; }

 private:
  void send_own_frame();

  std::string what_;
  av::CodecContextPtr context_;
  av::FramePtr frame_;  // our copy of the canvas; x264 copies it again on encode
  int64_t frames_sent_ = 0;
};

// Checks that `canvas` is a 1920x1080 yuv420p frame; throws callrec::Error otherwise.
void check_canvas(const AVFrame& canvas);

}  // namespace callrec::muxer
