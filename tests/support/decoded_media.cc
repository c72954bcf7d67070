#include "decoded_media.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <stdexcept>

#include "callrec/core/av.h"
#include "callrec/core/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
}

namespace callrec::testing {
namespace {

std::vector<std::string> read_boxes(const std::filesystem::path& path) {
  std::vector<std::string> names;
  std::ifstream in(path, std::ios::binary);
  const uint64_t size = std::filesystem::file_size(path);
  uint64_t offset = 0;
  while (offset + 8 <= size) {
    in.seekg(static_cast<std::streamoff>(offset));
    unsigned char h[16] = {};
    in.read(reinterpret_cast<char*>(h), 16);
    uint64_t n = (uint64_t{h[0]} << 24) | (uint64_t{h[1]} << 16) | (uint64_t{h[2]} << 8) | h[3];
    if (n == 1) {
      n = 0;
      for (int i = 8; i < 16; ++i) n = (n << 8) | h[i];
    }
    names.emplace_back(reinterpret_cast<char*>(h + 4), 4);
    if (n < 8) break;
    offset += n;
  }
  return names;
}

}  // namespace

DecodedChunk decode_chunk(const std::filesystem::path& path,
                          const std::function<void(int64_t, const AVFrame&)>& on_picture) {
  DecodedChunk out;
  out.info.top_level_boxes = read_boxes(path);
  AVFormatContext* raw = nullptr;
  check_av(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), path.string() + ": open");
  av::InputFormatPtr fmt(raw);
  check_av(avformat_find_stream_info(fmt.get(), nullptr), path.string() + ": stream info");
  out.info.duration_s = fmt->duration > 0 ? fmt->duration / 1e6 : 0;
  const int vi = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  const int ai = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  av::CodecContextPtr vdec, adec;
  if (vi >= 0) {
    const AVCodecParameters* p = fmt->streams[vi]->codecpar;
    out.info.video_codec = avcodec_get_name(p->codec_id);
    const char* prof = avcodec_profile_name(p->codec_id, p->profile);
    out.info.video_profile = prof ? prof : "";
    out.info.width = p->width;
    out.info.height = p->height;
    const char* pf = av_get_pix_fmt_name(static_cast<AVPixelFormat>(p->format));
    out.info.pix_fmt = pf ? pf : "";
    out.info.frame_rate_num = fmt->streams[vi]->avg_frame_rate.num;
    out.info.frame_rate_den = fmt->streams[vi]->avg_frame_rate.den;
    const AVCodec* c = avcodec_find_decoder(p->codec_id);
    vdec.reset(avcodec_alloc_context3(c));
    avcodec_parameters_to_context(vdec.get(), p);
    check_av(avcodec_open2(vdec.get(), c, nullptr), "open video decoder");
  }
  if (ai >= 0) {
    const AVCodecParameters* p = fmt->streams[ai]->codecpar;
    out.info.audio_codec = avcodec_get_name(p->codec_id);
    const char* prof = avcodec_profile_name(p->codec_id, p->profile);
    out.info.audio_profile = prof ? prof : "";
    out.info.sample_rate = p->sample_rate;
    out.info.channels = p->ch_layout.nb_channels;
    const AVCodec* c = avcodec_find_decoder(p->codec_id);
    adec.reset(avcodec_alloc_context3(c));
    avcodec_parameters_to_context(adec.get(), p);
    check_av(avcodec_open2(adec.get(), c, nullptr), "open audio decoder");
  }
  av::PacketPtr pkt = av::make_packet();
  av::FramePtr frame = av::make_frame();
  int64_t picture_index = 0;
  auto drain = [&](AVCodecContext* dec, bool video) {
    while (avcodec_receive_frame(dec, frame.get()) >= 0) {
      if (video) {
        if (on_picture) on_picture(picture_index, *frame);
        ++picture_index;
      } else {
        // Mono float planar or packed: channel 0.
        const float* data = reinterpret_cast<const float*>(frame->extended_data[0]);
        if (frame->format == AV_SAMPLE_FMT_FLTP || frame->format == AV_SAMPLE_FMT_FLT)
          out.audio.insert(out.audio.end(), data, data + frame->nb_samples);
      }
      av_frame_unref(frame.get());
    }
  };
  while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == vi) {
      if (out.info.video_frames == 0) {
        out.info.first_video_packet_key = pkt->flags & AV_PKT_FLAG_KEY;
        out.info.first_video_pts = pkt->pts;
      }
      ++out.info.video_frames;
      avcodec_send_packet(vdec.get(), pkt.get());
      drain(vdec.get(), true);
    } else if (pkt->stream_index == ai) {
      if (out.info.first_audio_pts < 0) out.info.first_audio_pts = pkt->pts;
      avcodec_send_packet(adec.get(), pkt.get());
      drain(adec.get(), false);
    }
    av_packet_unref(pkt.get());
  }
  if (vdec) {
    avcodec_send_packet(vdec.get(), nullptr);
    drain(vdec.get(), true);
  }
  if (adec) {
    avcodec_send_packet(adec.get(), nullptr);
    drain(adec.get(), false);
  }
  return out;
}

Yuv pixel_at(const AVFrame& f, int x, int y, int r) {
  long sy = 0, su = 0, sv = 0, n = 0;
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx) {
      const int px = std::clamp(x + dx, 0, f.width - 1), py = std::clamp(y + dy, 0, f.height - 1);
      sy += f.data[0][py * f.linesize[0] + px];
      su += f.data[1][(py / 2) * f.linesize[1] + px / 2];
      sv += f.data[2][(py / 2) * f.linesize[2] + px / 2];
      ++n;
    }
  return Yuv{static_cast<int>(sy / n), static_cast<int>(su / n), static_cast<int>(sv / n)};
}

double tone_amplitude(std::span<const float> s, double hz, int sample_rate) {
  if (s.empty()) return 0;
  const double w = 2 * std::numbers::pi * hz / sample_rate;
  const double coeff = 2 * std::cos(w);
  double s1 = 0, s2 = 0;
  for (float x : s) {
    const double s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return 2 * std::sqrt(std::max(0.0, power)) / static_cast<double>(s.size());
}

double rms(std::span<const float> s) {
  double acc = 0;
  for (float x : s) acc += double{x} * x;
  return s.empty() ? 0 : std::sqrt(acc / static_cast<double>(s.size()));
}

std::optional<double> beep_onset_ms(std::span<const float> audio, double around_ms, double search_ms) {
  const int64_t from = std::max<int64_t>(8, std::llround((around_ms - search_ms) * 16));
  const int64_t to =
      std::min<int64_t>(static_cast<int64_t>(audio.size()) - 8, std::llround((around_ms + search_ms) * 16));
  std::vector<double> power;
  for (int64_t n = from; n < to; ++n) {
    double acc = 0;
    for (int64_t k = n - 8; k < n + 8; ++k) acc += double{audio[static_cast<size_t>(k)]} * audio[static_cast<size_t>(k)];
    power.push_back(acc / 16);
  }
  if (power.empty()) return std::nullopt;
  const double peak = *std::max_element(power.begin(), power.end());
  if (peak < 0.01) return std::nullopt;
  for (size_t i = 0; i < power.size(); ++i)
    if (power[i] >= peak / 2) return static_cast<double>(from + static_cast<int64_t>(i)) / 16.0;
  return std::nullopt;
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return nlohmann::json::parse(in);
}

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("callrec-test-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace callrec::testing
