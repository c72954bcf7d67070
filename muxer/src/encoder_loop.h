// The send/receive loop of a libavcodec encoder, written once.
#pragma once

#include <string_view>

extern "C" {
struct AVCodecContext;
struct AVFrame;
struct AVPacket;
}

namespace callrec::muxer {

enum class ReceiveStatus {
  kPacket,     // `packet` holds a new packet
  kNeedInput,  // the encoder wants more frames before it can emit a packet
  kDrained,    // the encoder was flushed and has nothing more
};

// Sends `frame` (nullptr flushes). Throws callrec::Error naming `what` on failure.
void send_frame(AVCodecContext& encoder, const AVFrame* frame, std::string_view what);
// Receives one packet into `packet` (unreferenced first). Throws callrec::Error on failure.
ReceiveStatus receive_packet(AVCodecContext& encoder, AVPacket& packet, std::string_view what);

}  // namespace callrec::muxer
