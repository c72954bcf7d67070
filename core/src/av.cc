#include "callrec/core/av.h"

#include "callrec/core/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/frame.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace callrec::av {

void FrameDeleter::operator()(AVFrame* f) const { av_frame_free(&f); }
void PacketDeleter::operator()(AVPacket* p) const { av_packet_free(&p); }
void CodecContextDeleter::operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
void InputFormatDeleter::operator()(AVFormatContext* f) const { avformat_close_input(&f); }
void OutputFormatDeleter::operator()(AVFormatContext* f) const {
  if (f == nullptr) return;
  if (f->pb != nullptr && !(f->oformat->flags & AVFMT_NOFILE)) avio_closep(&f->pb);
  avformat_free_context(f);
}
void SwrDeleter::operator()(SwrContext* s) const { swr_free(&s); }
void SwsDeleter::operator()(SwsContext* s) const { sws_freeContext(s); }
void AudioFifoDeleter::operator()(AVAudioFifo* f) const { av_audio_fifo_free(f); }

FramePtr make_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw Error("out of memory allocating a frame");
  return f;
}

PacketPtr make_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw Error("out of memory allocating a packet");
  return p;
}

}  // namespace callrec::av
