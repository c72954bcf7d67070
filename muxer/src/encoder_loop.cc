#include "encoder_loop.h"

#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include "callrec/core/error.h"

namespace callrec::muxer {

void send_frame(AVCodecContext& encoder, const AVFrame* frame, std::string_view what) {
  check_av(avcodec_send_frame(&encoder, frame), std::string(what) + ": sending a frame to the encoder");
}

ReceiveStatus receive_packet(AVCodecContext& encoder, AVPacket& packet, std::string_view what) {
  av_packet_unref(&packet);
  const int ret = avcodec_receive_packet(&encoder, &packet);
  if (ret == AVERROR(EAGAIN)) return ReceiveStatus::kNeedInput;
  if (ret == AVERROR_EOF) return ReceiveStatus::kDrained;
  check_av(ret, std::string(what) + ": receiving a packet from the encoder");
  return ReceiveStatus::kPacket;
}

}  // namespace callrec::muxer
