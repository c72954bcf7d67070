#include "vp8_layers.h"

#include <stdexcept>

#include "callrec/core/av.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

namespace callrec::ingest::test {

std::vector<LayeredFrame> encode_vp8_l1t3(int frames, int fps, int width, int height) {
  av_log_set_level(AV_LOG_ERROR);
  const AVCodec* codec = avcodec_find_encoder_by_name("libvpx");
  if (!codec) throw std::runtime_error("no libvpx encoder");
  av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  ctx->width = width;
  ctx->height = height;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = AVRational{1, fps};
  ctx->framerate = AVRational{fps, 1};
  ctx->bit_rate = 800'000;
  ctx->gop_size = 10 * fps;
  AVDictionary* options = nullptr;
  av_dict_set(&options, "deadline", "realtime", 0);
  av_dict_set(&options, "cpu-used", "8", 0);
  // libvpx's layering mode 3: three layers, pattern 0-2-1-2, references as WebRTC sets them.
  av_dict_set(&options, "ts-parameters",
              "ts_number_layers=3:ts_target_bitrate=200,400,800:ts_rate_decimator=4,2,1:ts_periodicity=4:"
              "ts_layer_id=0,2,1,2:ts_layering_mode=3",
              0);
  const int opened = avcodec_open2(ctx.get(), codec, &options);
  av_dict_free(&options);
  if (opened < 0) throw std::runtime_error("cannot open libvpx with temporal layers");
  av::FramePtr frame = av::make_frame();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = width;
  frame->height = height;
  av_frame_get_buffer(frame.get(), 0);
  av::PacketPtr pkt = av::make_packet();
  std::vector<LayeredFrame> out;
  static const int kPattern[] = {0, 2, 1, 2};
  auto drain = [&] {
    while (avcodec_receive_packet(ctx.get(), pkt.get()) >= 0) {
      LayeredFrame f;
      f.data.assign(pkt->data, pkt->data + pkt->size);
      f.keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
      f.timestamp_90k = pkt->pts * 90000 / fps;
      f.temporal_layer = kPattern[pkt->pts % 4];
      out.push_back(std::move(f));
      av_packet_unref(pkt.get());
    }
  };
  for (int i = 0; i < frames; ++i) {
    av_frame_make_writable(frame.get());
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        frame->data[0][y * frame->linesize[0] + x] = static_cast<uint8_t>((x + y + 4 * i) & 0xff);
    for (int p = 1; p < 3; ++p)
      for (int y = 0; y < height / 2; ++y)
        for (int x = 0; x < width / 2; ++x) frame->data[p][y * frame->linesize[p] + x] = static_cast<uint8_t>(128 + ((x * p + i) & 31));
    frame->pts = i;
    if (avcodec_send_frame(ctx.get(), frame.get()) < 0) throw std::runtime_error("encoding failed");
    drain();
  }
  avcodec_send_frame(ctx.get(), nullptr);
  drain();
  return out;
}

std::vector<std::vector<uint8_t>> decode_vp8(const std::vector<const LayeredFrame*>& frames) {
  const AVCodec* codec = avcodec_find_decoder_by_name("vp8");
  av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  ctx->thread_count = 1;
  if (avcodec_open2(ctx.get(), codec, nullptr) < 0) throw std::runtime_error("cannot open the VP8 decoder");
  av::PacketPtr pkt = av::make_packet();
  av::FramePtr frame = av::make_frame();
  std::vector<std::vector<uint8_t>> out;
  for (const LayeredFrame* f : frames) {
    av_new_packet(pkt.get(), static_cast<int>(f->data.size()));
    std::copy(f->data.begin(), f->data.end(), pkt->data);
    const bool sent = avcodec_send_packet(ctx.get(), pkt.get()) >= 0;
    av_packet_unref(pkt.get());
    if (!sent || avcodec_receive_frame(ctx.get(), frame.get()) < 0) {
      out.emplace_back();
      continue;
    }
    std::vector<uint8_t> luma(static_cast<size_t>(frame->width * frame->height));
    for (int y = 0; y < frame->height; ++y)
      std::copy(frame->data[0] + y * frame->linesize[0], frame->data[0] + y * frame->linesize[0] + frame->width,
                luma.begin() + y * frame->width);
    out.push_back(std::move(luma));
    av_frame_unref(frame.get());
  }
  return out;
}

}  // namespace callrec::ingest::test
