#include "callrec/mediagen/media_generator.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "callrec/core/av.h"
#include "callrec/core/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

namespace callrec::mediagen {
namespace {

struct Yuv {
  uint8_t y, u, v;
};

Yuv to_yuv(Rgb c) {  // BT.601, limited range (what swscale assumes by default)
  const double r = c.r, g = c.g, b = c.b;
  return Yuv{static_cast<uint8_t>(std::lround(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255)),
             static_cast<uint8_t>(std::lround(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255)),
             static_cast<uint8_t>(std::lround(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255))};
}

class Writer {
 public:
  Writer(const std::filesystem::path& path, const MediaSpec& spec) : path_(path), spec_(spec) {
    AVFormatContext* raw = nullptr;
    check_av(avformat_alloc_output_context2(&raw, nullptr, nullptr, path.c_str()), where("choose container"));
    fmt_.reset(raw);
    if (spec.video) open_video(*spec.video);
    if (spec.audio) open_audio(*spec.audio);
    check_av(avio_open(&fmt_->pb, path.c_str(), AVIO_FLAG_WRITE), where("open for writing"));
    check_av(avformat_write_header(fmt_.get(), nullptr), where("write header"));
  }

  void run() {
    const int64_t total_video = spec_.video ? spec_.duration_ms * spec_.video->fps / 1000 : 0;
    const int64_t total_audio = spec_.audio ? spec_.duration_ms * spec_.audio->sample_rate_hz / 1000 : 0;
    int64_t video_next = 0, audio_next = 0;
    while (video_next < total_video || audio_next < total_audio) {
      const bool video_first =
          audio_next >= total_audio ||
          (video_next < total_video &&
           av_compare_ts(video_next, venc_->time_base, audio_next, aenc_->time_base) <= 0);
      if (video_first) {
        if (!in_gap(spec_.video->gaps, video_next * 1000 / spec_.video->fps)) encode_video(video_next);
        ++video_next;
      } else {
        const int n = static_cast<int>(std::min<int64_t>(audio_frame_size_, total_audio - audio_next));
        if (!in_gap(spec_.audio->gaps, audio_next * 1000 / spec_.audio->sample_rate_hz)) encode_audio(audio_next, n);
        audio_next += n;
      }
    }
    if (venc_) drain(venc_.get(), vstream_, nullptr);
    if (aenc_) drain(aenc_.get(), astream_, nullptr);
    check_av(av_write_trailer(fmt_.get()), where("write trailer"));
  }

 private:
  static bool in_gap(const std::vector<TimeRangeMs>& gaps, int64_t t_ms) {
    return std::any_of(gaps.begin(), gaps.end(), [&](const TimeRangeMs& g) { return t_ms >= g.start_ms && t_ms < g.end_ms; });
  }

  std::string where(const char* what) const { return path_.string() + ": " + what; }

  void open_video(const VideoSpec& v) {
    const AVCodec* codec = avcodec_find_encoder_by_name(v.encoder.c_str());
    if (!codec) throw Error(where("no video encoder") + std::string(" ") + v.encoder);
    venc_.reset(avcodec_alloc_context3(codec));
    venc_->width = v.width;
    venc_->height = v.height;
    venc_->pix_fmt = AV_PIX_FMT_YUV420P;
    venc_->time_base = AVRational{1, v.fps};
    venc_->framerate = AVRational{v.fps, 1};
    venc_->bit_rate = 400'000;
    venc_->gop_size = v.fps * 2;
    venc_->thread_count = 1;
    if (v.encoder == "libvpx") {
      av_opt_set(venc_->priv_data, "deadline", "realtime", 0);
      av_opt_set_int(venc_->priv_data, "cpu-used", 8, 0);
    } else if (v.encoder == "libx264") {
      av_opt_set(venc_->priv_data, "preset", "ultrafast", 0);
    }
    if (fmt_->oformat->flags & AVFMT_GLOBALHEADER) venc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check_av(avcodec_open2(venc_.get(), codec, nullptr), where("open video encoder"));
    vstream_ = avformat_new_stream(fmt_.get(), nullptr);
    check_av(avcodec_parameters_from_context(vstream_->codecpar, venc_.get()), where("video parameters"));
    vstream_->time_base = venc_->time_base;
    vframe_ = av::make_frame();
    vframe_->format = AV_PIX_FMT_YUV420P;
    vframe_->width = v.width;
    vframe_->height = v.height;
    check_av(av_frame_get_buffer(vframe_.get(), 0), where("allocate picture"));
  }

  void open_audio(const AudioSpec& a) {
    const AVCodec* codec = avcodec_find_encoder_by_name(a.encoder.c_str());
    if (!codec) throw Error(where("no audio encoder") + std::string(" ") + a.encoder);
    aenc_.reset(avcodec_alloc_context3(codec));
    aenc_->sample_rate = a.sample_rate_hz;
    av_channel_layout_default(&aenc_->ch_layout, a.channels);
    aenc_->sample_fmt = codec->sample_fmts ? codec->sample_fmts[0] : AV_SAMPLE_FMT_S16;
    for (const AVSampleFormat* f = codec->sample_fmts; f && *f != AV_SAMPLE_FMT_NONE; ++f)
      if (*f == AV_SAMPLE_FMT_FLT || *f == AV_SAMPLE_FMT_FLTP) aenc_->sample_fmt = *f;
    aenc_->bit_rate = 64'000;
    aenc_->time_base = AVRational{1, a.sample_rate_hz};
    if (fmt_->oformat->flags & AVFMT_GLOBALHEADER) aenc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check_av(avcodec_open2(aenc_.get(), codec, nullptr), where("open audio encoder"));
    audio_frame_size_ = aenc_->frame_size > 0 ? aenc_->frame_size : 1024;
    astream_ = avformat_new_stream(fmt_.get(), nullptr);
    check_av(avcodec_parameters_from_context(astream_->codecpar, aenc_.get()), where("audio parameters"));
    astream_->time_base = aenc_->time_base;
    aframe_ = av::make_frame();
  }

  void encode_video(int64_t index) {
    const VideoSpec& v = *spec_.video;
    check_av(av_frame_make_writable(vframe_.get()), where("picture writable"));
    const int64_t t_ms = index * 1000 / v.fps;
    const int64_t frame_ms = 1000 / v.fps;
    const bool flash = std::any_of(v.flash_at_ms.begin(), v.flash_at_ms.end(),
                                   [&](int64_t f) { return f >= t_ms && f < t_ms + frame_ms; });
    const Yuv c = to_yuv(flash ? Rgb{255, 255, 255} : v.colour);
    for (int y = 0; y < v.height; ++y)
      std::fill_n(vframe_->data[0] + y * vframe_->linesize[0], v.width, c.y);
    for (int y = 0; y < v.height / 2; ++y) {
      std::fill_n(vframe_->data[1] + y * vframe_->linesize[1], v.width / 2, c.u);
      std::fill_n(vframe_->data[2] + y * vframe_->linesize[2], v.width / 2, c.v);
    }
    if (v.noise_amplitude > 0) {
      for (int y = 0; y < v.height; ++y) {
        uint8_t* row = vframe_->data[0] + y * vframe_->linesize[0];
        for (int x = 0; x < v.width; ++x) {
          noise_state_ = noise_state_ * 1664525u + 1013904223u;  // LCG: deterministic noise
          const int n = static_cast<int>(noise_state_ >> 24) % (2 * v.noise_amplitude + 1) - v.noise_amplitude;
          row[x] = static_cast<uint8_t>(std::clamp(row[x] + n, 16, 235));
        }
      }
    }
    if (v.moving_square && !flash) {
      // A small bright square sliding along the top edge: motion for the encoder, while
      // the centre of the picture keeps the pure colour that tests measure.
      const int side = std::max(2, v.height / 10) & ~1;
      const int x0 = static_cast<int>((index * 7) % std::max(1, v.width - side)) & ~1;
      for (int y = 0; y < side; ++y) std::fill_n(vframe_->data[0] + y * vframe_->linesize[0] + x0, side, 235);
    }
    vframe_->pts = index;
    send(venc_.get(), vstream_, vframe_.get());
  }

  void encode_audio(int64_t first_sample, int count) {
    const AudioSpec& a = *spec_.audio;
    aframe_->format = aenc_->sample_fmt;
    aframe_->nb_samples = count;
    aframe_->sample_rate = a.sample_rate_hz;
    check_av(av_channel_layout_copy(&aframe_->ch_layout, &aenc_->ch_layout), where("audio layout"));
    check_av(av_frame_get_buffer(aframe_.get(), 0), where("allocate audio"));
    const auto fmt = static_cast<AVSampleFormat>(aenc_->sample_fmt);
    const bool planar = av_sample_fmt_is_planar(fmt);
    for (int i = 0; i < count; ++i) {
      const int64_t s = first_sample + i;
      const double t = static_cast<double>(s) / a.sample_rate_hz;
      const int64_t t_ms_floor = s * 1000 / a.sample_rate_hz;
      double value = 0;
      for (const ToneSegment& tone : a.tones)
        if (t_ms_floor >= tone.start_ms && t_ms_floor < tone.end_ms)
          value += tone.amplitude * std::sin(2 * std::numbers::pi * tone.frequency_hz * t);
      for (int ch = 0; ch < a.channels; ++ch) {
        const int plane = planar ? ch : 0;
        const int idx = planar ? i : i * a.channels + ch;
        switch (av_get_packed_sample_fmt(fmt)) {
          case AV_SAMPLE_FMT_FLT:
            reinterpret_cast<float*>(aframe_->extended_data[plane])[idx] = static_cast<float>(value);
            break;
          case AV_SAMPLE_FMT_S16:
            reinterpret_cast<int16_t*>(aframe_->extended_data[plane])[idx] =
                static_cast<int16_t>(std::lround(std::clamp(value, -1.0, 1.0) * 32767));
            break;
          case AV_SAMPLE_FMT_S32:
            reinterpret_cast<int32_t*>(aframe_->extended_data[plane])[idx] =
                static_cast<int32_t>(std::lround(std::clamp(value, -1.0, 1.0) * 2147483647.0));
            break;
          default:
            throw Error(where("unsupported sample format for the generator"));
        }
      }
    }
    aframe_->pts = first_sample;
    send(aenc_.get(), astream_, aframe_.get());
    av_frame_unref(aframe_.get());
  }

  void send(AVCodecContext* enc, AVStream* stream, AVFrame* frame) {
    check_av(avcodec_send_frame(enc, frame), where("encode"));
    drain(enc, stream, frame);
  }

  // Writes every packet the encoder has ready; with frame == nullptr, flushes it first.
  void drain(AVCodecContext* enc, AVStream* stream, const AVFrame* frame) {
    if (frame == nullptr) avcodec_send_frame(enc, nullptr);
    av::PacketPtr pkt = av::make_packet();
    while (true) {
      const int ret = avcodec_receive_packet(enc, pkt.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      check_av(ret, where("encode"));
      av_packet_rescale_ts(pkt.get(), enc->time_base, stream->time_base);
      pkt->stream_index = stream->index;
      check_av(av_interleaved_write_frame(fmt_.get(), pkt.get()), where("write packet"));
    }
  }

  std::filesystem::path path_;
  const MediaSpec& spec_;
  av::OutputFormatPtr fmt_;
  av::CodecContextPtr venc_, aenc_;
  AVStream* vstream_ = nullptr;  // owned by fmt_
  AVStream* astream_ = nullptr;  // owned by fmt_
  av::FramePtr vframe_, aframe_;
  int audio_frame_size_ = 1024;
  uint32_t noise_state_ = 12345;
};

}  // namespace

void write_media(const std::filesystem::path& path, const MediaSpec& spec) {
  if (!spec.video && !spec.audio) throw Error(path.string() + ": nothing to write (no audio, no video)");
  Writer writer(path, spec);
  writer.run();
}

}  // namespace callrec::mediagen
