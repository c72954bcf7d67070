#include "sender_harness.h"

#include <utility>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <optional>
#include <random>

#include "callrec/core/av.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
}

namespace callrec::ingest::test {
namespace asio = boost::asio;
using asio::ip::udp;

uint16_t free_port_pair() {
  asio::io_context io;
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000, 59998);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<uint16_t>(pick(rng) & ~1);
    boost::system::error_code a, b;
    udp::socket s1(io), s2(io);
    s1.open(udp::v4());
    s2.open(udp::v4());
    s1.bind(udp::endpoint(asio::ip::make_address("127.0.0.1"), port), a);
    s2.bind(udp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port + 1)), b);
    if (!a && !b) return port;
  }
  throw std::runtime_error("no free UDP port pair");
}

int run_command(const std::string& command) { return std::system(command.c_str()); }

bool have_program(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

void CollectingSink::on_audio(const AudioPacket& p) {
  Unit u;
  u.audio = true;
  u.stream = p.stream;
  u.capture_us = p.capture_time.us();
  u.arrival_us = clock_.now().us();
  u.rtp_timestamp = p.rtp_timestamp;
  u.ssrc = p.ssrc;
  u.lost_before = p.packets_lost_before;
  u.silence_before_48k = p.silence_before_48k;
  u.segment_start = p.segment_start;
  u.data.assign(p.payload.begin(), p.payload.end());
  std::lock_guard lock(mu_);
  units_.push_back(std::move(u));
}

void CollectingSink::on_video(const VideoFrame& f) {
  Unit u;
  u.stream = f.stream;
  u.capture_us = f.capture_time.us();
  u.arrival_us = clock_.now().us();
  u.keyframe = f.keyframe;
  u.rtp_timestamp = f.rtp_timestamp;
  u.ssrc = f.ssrc;
  u.segment_start = f.segment_start;
  u.temporal_layer = f.temporal_layer;
  u.data.assign(f.data.begin(), f.data.end());
  std::lock_guard lock(mu_);
  units_.push_back(std::move(u));
}

std::vector<Unit> CollectingSink::units() const {
  std::lock_guard lock(mu_);
  return units_;
}

std::vector<Unit> CollectingSink::audio() const {
  std::vector<Unit> out;
  for (auto& u : units())
    if (u.audio) out.push_back(std::move(u));
  return out;
}

std::vector<Unit> CollectingSink::video(int stream) const {
  std::vector<Unit> out;
  for (auto& u : units())
    if (!u.audio && (stream < 0 || u.stream == stream)) out.push_back(std::move(u));
  return out;
}

DecodeResult decode(const std::string& name, const std::vector<Unit>& units) {
  av_log_set_level(AV_LOG_QUIET);
  DecodeResult r;
  const AVCodec* codec = avcodec_find_decoder_by_name(name.c_str());
  if (!codec) {
    r.errors = -1;
    return r;
  }
  av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (name == "opus") {
    ctx->sample_rate = 48000;
    av_channel_layout_default(&ctx->ch_layout, 2);
  }
  if (avcodec_open2(ctx.get(), codec, nullptr) < 0) {
    r.errors = -1;
    return r;
  }
  av::PacketPtr pkt = av::make_packet();
  av::FramePtr frame = av::make_frame();
  auto receive = [&] {
    while (true) {
      const int ret = avcodec_receive_frame(ctx.get(), frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      if (ret < 0) {
        ++r.errors;
        return;
      }
      ++r.decoded;
      if ((frame->flags & AV_FRAME_FLAG_CORRUPT) || frame->decode_error_flags) ++r.errors;
      if (ctx->codec_type == AVMEDIA_TYPE_VIDEO) {
        r.width = frame->width;
        r.height = frame->height;
        double sum = 0;
        for (int y = 0; y < frame->height; y += 4)
          for (int x = 0; x < frame->width; x += 4) sum += frame->data[0][y * frame->linesize[0] + x];
        r.mean_luma.push_back(sum / ((frame->height + 3) / 4) / ((frame->width + 3) / 4));
      } else if (frame->format == AV_SAMPLE_FMT_FLTP) {
        double sum = 0;
        const auto* s = reinterpret_cast<const float*>(frame->data[0]);
        for (int i = 0; i < frame->nb_samples; ++i) sum += static_cast<double>(s[i]) * s[i];
        r.rms.push_back(frame->nb_samples ? std::sqrt(sum / frame->nb_samples) : 0.0);
      }
      av_frame_unref(frame.get());
    }
  };
  for (const Unit& u : units) {
    if (av_new_packet(pkt.get(), static_cast<int>(u.data.size())) < 0) continue;
    std::copy(u.data.begin(), u.data.end(), pkt->data);
    if (avcodec_send_packet(ctx.get(), pkt.get()) < 0) ++r.errors;
    av_packet_unref(pkt.get());
    receive();
  }
  avcodec_send_packet(ctx.get(), nullptr);
  receive();
  return r;
}

struct UdpRelay::Impl {
  struct Pending {
    std::chrono::steady_clock::time_point due;
    std::vector<uint8_t> bytes;
  };
  struct Leg {
    Route route;
    std::unique_ptr<udp::socket> socket;
    udp::endpoint from, last_source;
    std::vector<uint8_t> buffer = std::vector<uint8_t>(65536);
    int64_t index = 0;
    std::deque<Pending> queue;
    std::optional<std::vector<uint8_t>> held;  // waits for the next datagram (swap_with_next)
    std::unique_ptr<asio::steady_timer> timer;
  };

  explicit Impl(std::vector<Route> routes) {
    for (auto& r : routes) {
      auto leg = std::make_unique<Leg>();
      leg->route = std::move(r);
      leg->socket = std::make_unique<udp::socket>(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), leg->route.from_port));
      leg->timer = std::make_unique<asio::steady_timer>(io);
      legs.push_back(std::move(leg));
    }
    for (auto& leg : legs) receive(*leg);
    thread = std::thread([this] { io.run(); });
  }
  ~Impl() {
    asio::post(io, [this] {
      for (auto& leg : legs) {
        leg->socket->close();
        leg->timer->cancel();
      }
    });
    io.stop();
    thread.join();
  }

  void receive(Leg& leg) {
    leg.socket->async_receive_from(asio::buffer(leg.buffer), leg.from, [this, &leg](boost::system::error_code ec, size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        const udp::endpoint destination(asio::ip::make_address("127.0.0.1"), leg.route.to_port);
        std::vector<uint8_t> bytes(leg.buffer.begin(), leg.buffer.begin() + static_cast<std::ptrdiff_t>(n));
        if (leg.from == destination) {
          // A reply (RTCP back to the sender).
          if (leg.last_source.port() != 0) leg.socket->send_to(asio::buffer(bytes), leg.last_source, 0, ec);
        } else {
          leg.last_source = leg.from;
          if (leg.route.inspect) leg.route.inspect(bytes);
          const int64_t index = leg.index++;
          if (!leg.route.drop || !leg.route.drop(index, bytes)) {
            if (!leg.held && leg.route.swap_with_next && leg.route.swap_with_next(index)) {
              leg.held = std::move(bytes);
            } else {
              const auto due = std::chrono::steady_clock::now() + std::chrono::microseconds(leg.route.delay_us);
              leg.queue.push_back({due, std::move(bytes)});
              if (leg.held) {
                leg.queue.push_back({due, std::move(*leg.held)});
                leg.held.reset();
              }
              if (leg.queue.size() <= 2) arm(leg);
            }
          }
        }
      }
      receive(leg);
    });
  }

  void arm(Leg& leg) {
    leg.timer->expires_at(leg.queue.front().due);
    leg.timer->async_wait([this, &leg](boost::system::error_code ec) {
      if (ec) return;
      const udp::endpoint destination(asio::ip::make_address("127.0.0.1"), leg.route.to_port);
      const auto now = std::chrono::steady_clock::now();
      while (!leg.queue.empty() && leg.queue.front().due <= now) {
        leg.socket->send_to(asio::buffer(leg.queue.front().bytes), destination, 0, ec);
        leg.queue.pop_front();
      }
      if (!leg.queue.empty()) arm(leg);
    });
  }

  asio::io_context io;
  std::vector<std::unique_ptr<Leg>> legs;
  std::thread thread;
};

UdpRelay::UdpRelay(std::vector<Route> routes) : impl_(std::make_unique<Impl>(std::move(routes))) {}
UdpRelay::~UdpRelay() = default;

}  // namespace callrec::ingest::test
