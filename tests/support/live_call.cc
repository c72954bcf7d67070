#include "live_call.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>

#include "callrec/compositor/tile_layout.h"
#include "callrec/core/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
}

namespace callrec::testing {
namespace {

// Encodes frames made by `fill` with encoder `name`; returns every packet.
class Encoder {
 public:
  Encoder(const char* name, bool video, int fps, int gop) {
    const AVCodec* codec = avcodec_find_encoder_by_name(name);
    if (!codec) throw Error(std::string("no encoder ") + name);
    ctx_.reset(avcodec_alloc_context3(codec));
    if (video) {
      ctx_->width = 320;
      ctx_->height = 180;
      ctx_->pix_fmt = AV_PIX_FMT_YUV420P;
      ctx_->time_base = {1, fps};
      ctx_->framerate = {fps, 1};
      ctx_->gop_size = gop;
      ctx_->max_b_frames = 0;
      ctx_->bit_rate = 300'000;
      if (std::string(name) == "libx264") {
        av_opt_set(ctx_->priv_data, "tune", "zerolatency", 0);
        av_opt_set(ctx_->priv_data, "preset", "ultrafast", 0);
      }
      if (std::string(name) == "libvpx") av_opt_set(ctx_->priv_data, "deadline", "realtime", 0);
    } else {
      ctx_->sample_rate = 48000;
      ctx_->sample_fmt = AV_SAMPLE_FMT_S16;
      av_channel_layout_default(&ctx_->ch_layout, 1);
      ctx_->bit_rate = 32000;
      ctx_->time_base = {1, 48000};
    }
    ctx_->thread_count = 1;
    check_av(avcodec_open2(ctx_.get(), codec, nullptr), std::string("opening ") + name);
    frame_ = av::make_frame();
    packet_ = av::make_packet();
  }

  template <typename Fill>
  void encode(int64_t pts, const Fill& fill, Packets& out) {
    AVFrame* f = frame_.get();
    av_frame_unref(f);
    if (ctx_->width) {
      f->format = ctx_->pix_fmt;
      f->width = ctx_->width;
      f->height = ctx_->height;
    } else {
      f->format = ctx_->sample_fmt;
      f->sample_rate = 48000;
      f->nb_samples = ctx_->frame_size;
      av_channel_layout_default(&f->ch_layout, 1);
    }
    check_av(av_frame_get_buffer(f, 0), "frame buffer");
    fill(*f);
    f->pts = pts;
    check_av(avcodec_send_frame(ctx_.get(), f), "encoding");
    drain(out);
  }
  void flush(Packets& out) {
    avcodec_send_frame(ctx_.get(), nullptr);
    drain(out);
  }
  int frame_size() const { return ctx_->frame_size; }

 private:
  void drain(Packets& out) {
    while (avcodec_receive_packet(ctx_.get(), packet_.get()) == 0) {
      out.emplace_back(packet_->data, packet_->data + packet_->size);
      av_packet_unref(packet_.get());
    }
  }
  av::CodecContextPtr ctx_;
  av::FramePtr frame_;
  av::PacketPtr packet_;
};

void fill_colour(AVFrame& f, Yuv c) {
  for (int row = 0; row < f.height; ++row) std::fill_n(f.data[0] + row * f.linesize[0], f.width, uint8_t(c.y));
  for (int row = 0; row < (f.height + 1) / 2; ++row) {
    std::fill_n(f.data[1] + row * f.linesize[1], (f.width + 1) / 2, uint8_t(c.u));
    std::fill_n(f.data[2] + row * f.linesize[2], (f.width + 1) / 2, uint8_t(c.v));
  }
}

}  // namespace

Packets opus_tone(double hz, double amplitude, int64_t duration_ms) {
  Encoder opus("libopus", false, 0, 0);
  Packets out;
  int64_t samples = 0;
  while (out.size() < static_cast<size_t>(duration_ms / 20)) {
    opus.encode(samples, [&](AVFrame& f) {
      auto* s = reinterpret_cast<int16_t*>(f.data[0]);
      for (int i = 0; i < f.nb_samples; ++i)
        s[i] = int16_t(amplitude * 32767 * std::sin(2 * std::numbers::pi * hz * double(samples + i) / 48000));
    }, out);
    samples += opus.frame_size();
  }
  out.resize(static_cast<size_t>(duration_ms / 20));
  return out;
}

Packets video_colour(VideoCodec codec, Yuv colour, int fps, int frames, int gop) {
  Encoder video(codec == VideoCodec::kH264 ? "libx264" : "libvpx", true, fps, gop);
  Packets out;
  for (int k = 0; k < frames; ++k) video.encode(k, [&](AVFrame& f) { fill_colour(f, colour); }, out);
  video.flush(out);
  return out;
}

av::FramePtr picture(int width, int height, Yuv colour) {
  av::FramePtr f = av::make_frame();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = width;
  f->height = height;
  check_av(av_frame_get_buffer(f.get(), 0), "test picture");
  fill_colour(*f, colour);
  return f;
}

av::FramePtr tone_frame(int rate_hz, int channels, int sample_format, int samples, int64_t first_sample, double hz,
                        double amplitude) {
  av::FramePtr f = av::make_frame();
  const auto format = static_cast<AVSampleFormat>(sample_format);
  f->format = format;
  f->sample_rate = rate_hz;
  f->nb_samples = samples;
  av_channel_layout_default(&f->ch_layout, channels);
  check_av(av_frame_get_buffer(f.get(), 0), "test audio frame");
  const bool planar = av_sample_fmt_is_planar(format);
  const int bytes = av_get_bytes_per_sample(format);
  for (int i = 0; i < samples; ++i) {
    const double v = amplitude * std::sin(2 * std::numbers::pi * hz * double(first_sample + i) / rate_hz);
    for (int c = 0; c < channels; ++c) {
      uint8_t* at = planar ? f->extended_data[c] + i * bytes : f->extended_data[0] + (i * channels + c) * bytes;
      switch (av_get_packed_sample_fmt(format)) {
        case AV_SAMPLE_FMT_U8: *at = uint8_t(std::lround(128 + v * 127)); break;
        case AV_SAMPLE_FMT_S16: *reinterpret_cast<int16_t*>(at) = int16_t(std::lround(v * 32767)); break;
        case AV_SAMPLE_FMT_S32: *reinterpret_cast<int32_t*>(at) = int32_t(std::lround(v * 2147483647.0)); break;
        case AV_SAMPLE_FMT_S64: *reinterpret_cast<int64_t*>(at) = int64_t(v * 9.2e18); break;
        case AV_SAMPLE_FMT_FLT: *reinterpret_cast<float*>(at) = float(v); break;
        case AV_SAMPLE_FMT_DBL: *reinterpret_cast<double*>(at) = v; break;
        default: throw Error("test: no such sample format");
      }
    }
  }
  return f;
}

VirtualCall::VirtualCall(const std::string& name, std::function<void(SessionConfig&)> tune)
    : out_(fresh_dir(name)), clock_(std::make_shared<VirtualClock>()) {
  using namespace std::chrono_literals;
  SessionConfig config{.out_dir = out_,
                       .call_id = "call-" + name,
                       .resource_id = "res-" + name,
                       .jitter_window = 200ms,
                       .clock = clock_,
                       .on_event = [this](const SessionEvent& e) { events_.push_back(e); }};
  if (tune) tune(config);
  session_ = std::make_unique<Session>(std::move(config));
}

VirtualCall::~VirtualCall() {
  session_.reset();
  std::error_code ignored;
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(out_, ignored);
}

void VirtualCall::run_until(int64_t until_ms, const std::vector<std::function<void(int64_t)>>& ticks) {
  while (now_ms() < until_ms) {
    const int64_t t = session_->now().ms();
    for (const auto& tick : ticks) tick(t);
    clock_->advance(MediaTime::from_ms(20));
  }
}

VirtualCall::Recording VirtualCall::finish(std::vector<int64_t> picture_at_ms) {
  Recording r;
  (void)session_->stop("op-stop");
  r.status = session_->wait();
  const auto notification_path = out_ / "recording.json";
  if (!std::filesystem::exists(notification_path)) return r;
  r.notification = read_json(notification_path);
  for (const auto& chunk : r.notification["data"]["recordingStorageInfo"]["recordingChunks"]) {
    r.chunks.push_back(read_json(out_ / (chunk["documentId"].get<std::string>() + ".json")));
  }
  if (r.chunks.empty()) return r;
  const std::string first = r.chunks.front()["chunkDocumentId"];
  r.media = decode_chunk(out_ / (first + ".mp4"), [&](int64_t index, const AVFrame& f) {
    for (const int64_t ms : picture_at_ms) {
      if (index != ms * 8 / 1000) continue;
      av::FramePtr copy = av::make_frame();
      check_av(av_frame_ref(copy.get(), &f), "keeping a decoded picture");
      r.pictures[ms] = std::move(copy);
    }
  });
  return r;
}

Yuv tile_colour(const AVFrame& canvas, int tiles, int index) {
  const compositor::Rect r = compositor::tile_layout(tiles, {1920, 1080})[static_cast<size_t>(index)];
  return pixel_at(canvas, r.x + r.width / 2, r.y + r.height / 2);
}

bool near(Yuv a, Yuv b, int tolerance) {
  return std::abs(a.y - b.y) <= tolerance && std::abs(a.u - b.u) <= tolerance && std::abs(a.v - b.v) <= tolerance;
}

double tone_between(const std::vector<float>& audio, double hz, double from_s, double to_s) {
  const auto from = static_cast<size_t>(std::max(0.0, from_s) * 16000);
  const auto to = std::min(audio.size(), static_cast<size_t>(to_s * 16000));
  if (to <= from) return 0;
  return tone_amplitude(std::span<const float>(audio).subspan(from, to - from), hz);
}

std::vector<std::string> media_problems(const std::vector<nlohmann::json>& chunks) {
  std::vector<std::string> lines;
  for (const nlohmann::json& c : chunks) {
    if (!c.contains("mediaProblems")) continue;
    for (const auto& line : c["mediaProblems"]) lines.push_back(line.get<std::string>());
  }
  return lines;
}

nlohmann::json participant_stats(const nlohmann::json& chunk, const std::string& participant_id) {
  for (const auto& p : chunk["participantMediaStats"]) {
    if (p["participantId"] == participant_id) return p;
  }
  return nlohmann::json();
}

RtpSender RtpSender::opus(Session& s, std::string id, Packets packets, int64_t start_ms, uint32_t rtp_base,
                          Network net) {
  RtpSender r;
  r.session_ = &s;
  r.id_ = std::move(id);
  r.audio_ = true;
  r.packets_ = std::move(packets);
  r.start_ms_ = start_ms;
  r.fps_ = 50;
  r.rtp_base_ = rtp_base;
  r.net_ = net;
  r.rng_.seed(net.seed);
  return r;
}

RtpSender RtpSender::video(Session& s, std::string id, VideoCodec codec, Packets frames, int fps, int64_t start_ms,
                           uint32_t rtp_base, Network net, VideoTrack track) {
  RtpSender r = opus(s, std::move(id), std::move(frames), start_ms, rtp_base, net);
  r.audio_ = false;
  r.codec_ = codec;
  r.track_ = track;
  r.fps_ = fps;
  return r;
}

void RtpSender::tick(int64_t call_ms) {
  while (next_ < packets_.size() && start_ms_ + static_cast<int64_t>(next_) * 1000 / fps_ <= call_ms) {
    const int64_t sent_ms = start_ms_ + static_cast<int64_t>(next_) * 1000 / fps_;
    ++sent_;
    if (net_.loss_percent > 0 && std::uniform_int_distribution<int>(0, 99)(rng_) < net_.loss_percent) {
      ++lost_;
      lost_indices_.push_back(next_);
    } else {
      int delay = net_.max_delay_ms > 0 ? std::uniform_int_distribution<int>(0, net_.max_delay_ms)(rng_) : 0;
      if (next_ == 0 && net_.first_on_time) delay = 0;
      if (sent_ms >= hold_.from_ms && sent_ms < hold_.to_ms) delay += hold_.extra_ms;
      in_flight_.push_back({sent_ms + delay, next_});
    }
    ++next_;
  }
  std::stable_sort(in_flight_.begin(), in_flight_.end(),
                   [](const InFlight& a, const InFlight& b) { return a.arrive_ms < b.arrive_ms; });
  size_t delivered = 0;
  for (; delivered < in_flight_.size() && in_flight_[delivered].arrive_ms <= call_ms; ++delivered) {
    const size_t k = in_flight_[delivered].index;
    Status s;
    if (audio_) {
      s = session_->push_opus(id_, packets_[k], rtp_base_ + static_cast<uint32_t>(960 * k));
    } else {
      s = session_->push_video_packet(id_, codec_, packets_[k],
                                      rtp_base_ + static_cast<uint32_t>(int64_t{90000} * static_cast<int64_t>(k) / fps_),
                                      track_);
    }
    if (!s) ++refused_;
  }
  in_flight_.erase(in_flight_.begin(), in_flight_.begin() + static_cast<std::ptrdiff_t>(delivered));
}

}  // namespace callrec::testing
