#include "callrec/mediagen/media_generator.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <vector>

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


uint32_t hash32(uint32_t x) {  // a well-mixed integer hash (lowbias32)
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Value noise in [0, 1] that repeats every `width` x `height` pixels (`cells_x` x
// `cells_y` lattice cells across), so a scrolling texture has no seam.
double periodic_noise(uint32_t seed, int x, int y, int width, int height, int cells_x, int cells_y) {
  const double fx = static_cast<double>(x) * cells_x / width;
  const double fy = static_cast<double>(y) * cells_y / height;
  const int ix = static_cast<int>(fx);
  const int iy = static_cast<int>(fy);
  const double tx = fx - ix, ty = fy - iy;
  const double sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty);  // smoothstep
  auto at = [&](int cx, int cy) {
    const uint32_t key = static_cast<uint32_t>(cx % cells_x) * 73856093U ^ static_cast<uint32_t>(cy % cells_y) * 19349663U;
    return hash32(seed ^ hash32(key)) / 4294967295.0;
  };
  const double top = at(ix, iy) + (at(ix + 1, iy) - at(ix, iy)) * sx;
  const double bottom = at(ix, iy + 1) + (at(ix + 1, iy + 1) - at(ix, iy + 1)) * sx;
  return top + (bottom - top) * sy;
}

uint8_t clamp_video(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 16L, 235L)); }
uint8_t clamp_chroma(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 16L, 240L)); }

// A detailed, tileable yuv420p picture made once per file: value noise at three scales
// (large shapes, objects, fine grain) and, for a room background, shelf edges and book
// spines. Planes are tightly packed.
struct Texture {
  int width = 0, height = 0;
  std::vector<uint8_t> y, u, v;  // u and v are width/2 x height/2

  Texture(int w, int h, uint32_t seed, bool room) : width(w), height(h) {
    y.resize(static_cast<size_t>(w) * h);
    u.resize(static_cast<size_t>(w / 2) * (h / 2));
    v.resize(u.size());
    const int shelf_px = std::max(8, h / 4);
    for (int row = 0; row < h; ++row) {
      for (int col = 0; col < w; ++col) {
        double luma = 0.45 * periodic_noise(seed, col, row, w, h, 4, 3) +
                      0.30 * periodic_noise(seed + 1, col, row, w, h, std::max(1, w / 40), std::max(1, h / 40)) +
                      0.25 * periodic_noise(seed + 2, col, row, w, h, std::max(1, w / 3), std::max(1, h / 3));
        luma = 40 + 170 * luma;
        if (room) {
          if (row % shelf_px < 3) luma = 30;  // shelf edge
          const int spine = col / std::max(4, w / 48);
          if (row % shelf_px > shelf_px / 3) luma += (static_cast<int>(hash32(seed ^ (spine * 2654435761U)) % 61) - 30);
        }
        y[static_cast<size_t>(row) * w + col] = clamp_video(luma);
      }
    }
    for (int row = 0; row < h / 2; ++row) {
      for (int col = 0; col < w / 2; ++col) {
        const size_t i = static_cast<size_t>(row) * (w / 2) + col;
        u[i] = clamp_chroma(128 + 60 * (periodic_noise(seed + 3, col, row, w / 2, h / 2, 3, 2) - 0.5));
        v[i] = clamp_chroma(128 + 60 * (periodic_noise(seed + 4, col, row, w / 2, h / 2, 3, 2) - 0.5));
      }
    }
  }
};

class Writer {
 public:
  Writer(const std::filesystem::path& path, const MediaSpec& spec) : path_(path), spec_(spec) {
    AVFormatContext* raw = nullptr;
    check_av(avformat_alloc_output_context2(&raw, nullptr, nullptr, path.c_str()), where("choose container"));
    fmt_.reset(raw);
    if (spec.video) open_video(*spec.video);
    if (spec.audio) open_audio(*spec.audio);
    check_av(avio_open(&fmt_->pb, path.c_str(), AVIO_FLAG_WRITE), where("open for writing"));
    AVDictionary* options = nullptr;
    if (spec.live) av_dict_set(&options, "live", "1", 0);
    const int ret = avformat_write_header(fmt_.get(), &options);
    av_dict_free(&options);
    check_av(ret, where("write header"));
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

  // libvpx's own patterns (vp8_scalable_patterns): two layers alternate base and
  // enhancement; three repeat 0, 2, 1, 2, the base taking 40 % of the rate and the
  // middle layer 20 %.
  void set_temporal_layers(const VideoSpec& v) {
    if (v.temporal_layers > 3) throw Error(where("at most 3 temporal layers"));
    const int kbps = std::max(3, v.bit_rate_bps / 1000);
    const std::string params =
        v.temporal_layers == 2
            ? "ts_number_layers=2:ts_target_bitrate=" + std::to_string(kbps * 6 / 10) + "," + std::to_string(kbps) +
                  ":ts_rate_decimator=2,1:ts_periodicity=2:ts_layer_id=0,1:ts_layering_mode=2"
            : "ts_number_layers=3:ts_target_bitrate=" + std::to_string(kbps * 4 / 10) + "," +
                  std::to_string(kbps * 6 / 10) + "," + std::to_string(kbps) +
                  ":ts_rate_decimator=4,2,1:ts_periodicity=4:ts_layer_id=0,2,1,2:ts_layering_mode=3";
    check_av(av_opt_set(venc_->priv_data, "ts-parameters", params.c_str(), 0), where("temporal layers"));
  }

  void open_video(const VideoSpec& v) {
    const AVCodec* codec = avcodec_find_encoder_by_name(v.encoder.c_str());
    if (!codec) throw Error(where("no video encoder") + std::string(" ") + v.encoder);
    venc_.reset(avcodec_alloc_context3(codec));
    venc_->width = v.width;
    venc_->height = v.height;
    venc_->pix_fmt = AV_PIX_FMT_YUV420P;
    venc_->time_base = AVRational{1, v.fps};
    venc_->framerate = AVRational{v.fps, 1};
    venc_->bit_rate = v.bit_rate_bps;
    venc_->gop_size = v.keyframe_interval_frames > 0 ? v.keyframe_interval_frames : v.fps * 2;
    venc_->thread_count = 1;
    if (v.encoder == "libvpx") {
      av_opt_set(venc_->priv_data, "deadline", "realtime", 0);
      av_opt_set_int(venc_->priv_data, "cpu-used", 8, 0);
      if (v.temporal_layers > 1) set_temporal_layers(v);
    } else if (v.encoder == "libx264") {
      av_opt_set(venc_->priv_data, "preset", "ultrafast", 0);
      if (v.bframes > 0) venc_->max_b_frames = v.bframes;
      if (v.references > 0) venc_->refs = v.references;
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
    if (v.content != VideoContent::solid)
      texture_.emplace(v.width & ~1, v.height & ~1, v.seed * 7919U, v.content == VideoContent::talking_head);
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
    if (flash || v.content == VideoContent::solid) {
      const Yuv c = to_yuv(flash ? Rgb{255, 255, 255} : v.colour);
      for (int y = 0; y < v.height; ++y)
        std::fill_n(vframe_->data[0] + y * vframe_->linesize[0], v.width, c.y);
      for (int y = 0; y < v.height / 2; ++y) {
        std::fill_n(vframe_->data[1] + y * vframe_->linesize[1], v.width / 2, c.u);
        std::fill_n(vframe_->data[2] + y * vframe_->linesize[2], v.width / 2, c.v);
      }
    } else if (v.content == VideoContent::full_motion) {
      paint_scrolled(index);
    } else {
      paint_talking_head(index);
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
    if (v.moving_square && !flash && v.content == VideoContent::solid) {
      // A small bright square sliding along the top edge: motion for the encoder, while
      // the centre of the picture keeps the pure colour that tests measure.
      const int side = std::max(2, v.height / 10) & ~1;
      const int x0 = static_cast<int>((index * 7) % std::max(1, v.width - side)) & ~1;
      for (int y = 0; y < side; ++y) std::fill_n(vframe_->data[0] + y * vframe_->linesize[0] + x0, side, 235);
    }
    vframe_->pts = index;
    send(venc_.get(), vstream_, vframe_.get());
  }


  // full_motion: the texture scrolls 6 px right-to-left and 2 px up per frame (even
  // steps keep chroma aligned), wrapping around: every pixel changes every frame.
  void paint_scrolled(int64_t index) {
    const Texture& t = *texture_;
    const int dx = static_cast<int>((index * 6) % t.width) & ~1;
    const int dy = static_cast<int>((index * 2) % t.height) & ~1;
    auto copy_plane = [&](const std::vector<uint8_t>& src, int w, int h, int ox, int oy, uint8_t* dst, int stride) {
      for (int row = 0; row < h; ++row) {
        const uint8_t* line = src.data() + static_cast<size_t>((row + oy) % h) * w;
        std::copy(line + ox, line + w, dst + row * stride);
        std::copy(line, line + ox, dst + row * stride + (w - ox));
      }
    };
    copy_plane(t.y, t.width, t.height, dx, dy, vframe_->data[0], vframe_->linesize[0]);
    copy_plane(t.u, t.width / 2, t.height / 2, dx / 2, dy / 2, vframe_->data[1], vframe_->linesize[1]);
    copy_plane(t.v, t.width / 2, t.height / 2, dx / 2, dy / 2, vframe_->data[2], vframe_->linesize[2]);
  }

  // talking_head: the still room texture, and in front of it a head and shoulders that
  // sway and nod slowly, with eyes that blink and a mouth that opens and closes. The
  // face carries texture detail that moves with it, as real skin and hair do.
  void paint_talking_head(int64_t index) {
    const VideoSpec& v = *spec_.video;
    const Texture& t = *texture_;
    for (int row = 0; row < t.height; ++row)
      std::copy_n(t.y.data() + static_cast<size_t>(row) * t.width, t.width, vframe_->data[0] + row * vframe_->linesize[0]);
    for (int row = 0; row < t.height / 2; ++row) {
      std::copy_n(t.u.data() + static_cast<size_t>(row) * (t.width / 2), t.width / 2, vframe_->data[1] + row * vframe_->linesize[1]);
      std::copy_n(t.v.data() + static_cast<size_t>(row) * (t.width / 2), t.width / 2, vframe_->data[2] + row * vframe_->linesize[2]);
    }
    const double sec = static_cast<double>(index) / v.fps;
    const double phase = (v.seed % 97) * 0.37;
    const double w = t.width, h = t.height;
    const double cx = w / 2 + w * 0.06 * std::sin(2 * std::numbers::pi * sec / 5.3 + phase);
    const double cy = h * 0.47 + h * 0.03 * std::sin(2 * std::numbers::pi * sec / 3.1 + phase);
    const double a = h * 0.17, b = h * 0.23;  // face half-width, half-height
    const bool blink = std::fmod(sec + phase, 4.0) < 0.15;
    const double mouth_open = a * (0.04 + 0.12 * std::abs(std::sin(2 * std::numbers::pi * 2.7 * sec + phase)));
    auto inside = [](double dx, double dy, double rx, double ry) { return (dx * dx) / (rx * rx) + (dy * dy) / (ry * ry) <= 1; };
    // Only the box around head and shoulders changes.
    const int first_row = std::max(0, static_cast<int>(cy - b) - 1);
    const int first_col = std::max(0, static_cast<int>(cx - 2.2 * a) - 1);
    const int last_col = std::min(t.width, static_cast<int>(cx + 2.2 * a) + 2);
    for (int row = first_row; row < t.height; ++row) {
      uint8_t* luma = vframe_->data[0] + row * vframe_->linesize[0];
      uint8_t* cb = vframe_->data[1] + (row / 2) * vframe_->linesize[1];
      uint8_t* cr = vframe_->data[2] + (row / 2) * vframe_->linesize[2];
      for (int col = first_col; col < last_col; ++col) {
        const double dx = col - cx, dy = row - cy;
        // Texture detail that travels with the head (wraps inside the texture).
        const int tx = ((static_cast<int>(dx) * 3 + t.width * 4) % t.width);
        const int ty = ((static_cast<int>(dy) * 3 + t.height * 4) % t.height);
        const double detail = t.y[static_cast<size_t>(ty) * t.width + tx] - 128.0;
        double y = -1, u = 0, vv = 0;
        if (inside(dx, dy, a, b)) {
          y = 150 - 25 * dx / a + 0.15 * detail;  // side lighting
          u = 110, vv = 152;
          if (dy < -b * 0.55) y = 50 + 0.3 * detail, u = 124, vv = 132;  // hair
          if (!blink && (inside(dx - a * 0.4, dy + b * 0.2, a * 0.13, a * 0.08) ||
                         inside(dx + a * 0.4, dy + b * 0.2, a * 0.13, a * 0.08)))
            y = 35;
          if (inside(dx, dy - b * 0.5, a * 0.35, mouth_open)) y = 45, u = 120, vv = 150;
        } else if (dy > b * 0.8 && inside(dx, dy - b * 2.1, a * 2.2, b * 1.3)) {
          y = 70 + 0.25 * detail, u = 150, vv = 110;  // shoulders, a blue top
        }
        if (y < 0) continue;
        luma[col] = clamp_video(y);
        if ((row & 1) == 0 && (col & 1) == 0) {
          cb[col / 2] = clamp_chroma(u);
          cr[col / 2] = clamp_chroma(vv);
        }
      }
    }
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
  std::optional<Texture> texture_;  // talking_head and full_motion only
};

}  // namespace

void write_media(const std::filesystem::path& path, const MediaSpec& spec) {
  if (!spec.video && !spec.audio) throw Error(path.string() + ": nothing to write (no audio, no video)");
  Writer writer(path, spec);
  writer.run();
}

}  // namespace callrec::mediagen
