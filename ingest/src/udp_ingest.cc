#include "callrec/ingest/udp_ingest.h"

#include <atomic>
#include <utility>

#include <boost/asio.hpp>
#include <future>
#include <map>
#include <thread>

#include "callrec/core/error.h"
#include "callrec/ingest/participant_receiver.h"

namespace callrec::ingest {
namespace asio = boost::asio;
using asio::ip::udp;

namespace {
constexpr size_t kDatagramBytes = 65536;

SourceAddress to_source(const udp::endpoint& e) {
  SourceAddress s;
  s.port = e.port();
  if (e.address().is_v4()) {
    const auto b = e.address().to_v4().to_bytes();
    std::copy(b.begin(), b.end(), s.ip.begin());
  } else {
    const auto b = e.address().to_v6().to_bytes();
    std::copy(b.begin(), b.end(), s.ip.begin());
    s.v6 = true;
  }
  return s;
}

udp::endpoint to_endpoint(const SourceAddress& s) {
  if (s.v6) {
    asio::ip::address_v6::bytes_type b;
    std::copy(s.ip.begin(), s.ip.end(), b.begin());
    return udp::endpoint(asio::ip::address_v6(b), s.port);
  }
  asio::ip::address_v4::bytes_type b;
  std::copy(s.ip.begin(), s.ip.begin() + 4, b.begin());
  return udp::endpoint(asio::ip::address_v4(b), s.port);
}
}  // namespace

struct UdpIngest::Impl {
  // One bound socket and its receive loop.
  struct Socket {
    Socket(asio::io_context& io, udp::endpoint at) : socket(io) {
      socket.open(at.protocol());
      socket.bind(at);
      buffer.resize(kDatagramBytes);
    }
    udp::socket socket;
    std::vector<uint8_t> buffer;
    udp::endpoint from;
  };

  struct Participant : RtcpSender {
    Participant(Impl& impl, ParticipantMedia media, MediaSink& sink, ReceiverConfig config)
        : impl(impl), receiver(std::move(media), sink, *this, std::move(config)) {}

    void send_rtcp(int stream, std::span<const uint8_t> packet, const SourceAddress& to) override {
      auto& pair = sockets.at(static_cast<size_t>(stream));
      Socket& s = pair.second ? *pair.second : *pair.first;
      boost::system::error_code ec;
      s.socket.send_to(asio::buffer(packet.data(), packet.size()), to_endpoint(to), 0, ec);
      if (ec) impl.send_errors.fetch_add(1);
    }

    Impl& impl;
    ParticipantReceiver receiver;
    // Per stream: the RTP socket and the RTCP socket (null with rtcp-mux).
    std::vector<std::pair<std::unique_ptr<Socket>, std::unique_ptr<Socket>>> sockets;
    bool removed = false;
  };

  explicit Impl(const Clock& c) : clock(c), work(asio::make_work_guard(io)), timer(io) {
    arm_timer();
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    run([this] {
      timer.cancel();
      for (auto& [id, p] : participants) close(*p);
    });
    run([] {});  // the receive handlers that close() aborted have run before this
    work.reset();
    io.stop();
    thread.join();
    participants.clear();
    retired.clear();
  }

  // Runs `f` on the network thread and waits for it, passing exceptions back.
  template <typename F>
  auto run(F&& f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::forward<F>(f));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }

  int64_t now_us() const { return clock.now().us(); }

  void arm_timer() {
    timer.expires_after(std::chrono::microseconds(kTickUs));
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      const int64_t now = now_us();
      for (auto& [id, p] : participants) p->receiver.on_timer(now);
      arm_timer();
    });
  }

  void receive(Participant& p, int stream, Channel channel, Socket& s) {
    s.socket.async_receive_from(asio::buffer(s.buffer), s.from,
                                [this, &p, stream, channel, &s](const boost::system::error_code& ec, size_t bytes) {
                                  if (ec == asio::error::operation_aborted || p.removed) return;
                                  if (!ec) {
                                    p.receiver.on_datagram(stream, channel,
                                                           std::span<const uint8_t>(s.buffer.data(), bytes),
                                                           to_source(s.from), now_us());
                                  }
                                  receive(p, stream, channel, s);
                                });
  }

  static void close(Participant& p) {
    p.removed = true;
    boost::system::error_code ignored;
    for (auto& [rtp, rtcp] : p.sockets) {
      rtp->socket.close(ignored);
      if (rtcp) rtcp->socket.close(ignored);
    }
  }

  const Clock& clock;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  asio::steady_timer timer;
  std::thread thread;
  std::map<int, std::unique_ptr<Participant>> participants;  // network thread only
  // Closed participants wait here until their pending handlers have run.
  std::vector<std::unique_ptr<Participant>> retired;
  int next_id = 1;
  std::atomic<int64_t> send_errors{0};
};

UdpIngest::UdpIngest(const Clock& clock) : impl_(std::make_unique<Impl>(clock)) {}
UdpIngest::~UdpIngest() = default;

UdpIngest::ParticipantId UdpIngest::add(ParticipantMedia media, MediaSink& sink, ReceiverConfig config) {
  return impl_->run([&]() -> ParticipantId {
    auto p = std::make_unique<Impl::Participant>(*impl_, std::move(media), sink, std::move(config));
    const auto& streams = p->receiver.media().streams;
    for (size_t i = 0; i < streams.size(); ++i) {
      const StreamDescription& d = streams[i];
      boost::system::error_code ec;
      const auto address = asio::ip::make_address(d.address, ec);
      if (ec) throw Error("stream " + std::to_string(i) + ": \"" + d.address + "\" is not an IP address");
      auto open = [&](uint16_t port) {
        try {
          return std::make_unique<Impl::Socket>(impl_->io, udp::endpoint(address, port));
        } catch (const boost::system::system_error& e) {
          throw Error("cannot listen on " + d.address + " port " + std::to_string(port) + ": " +
                      e.code().message());
        }
      };
      auto rtp = open(d.rtp_port);
      std::unique_ptr<Impl::Socket> rtcp;
      if (!d.rtcp_mux) {
        uint16_t rtcp_port = d.rtcp_listen_port();
        if (d.rtp_port == 0 && !d.rtcp_port) rtcp_port = 0;
        rtcp = open(rtcp_port);
      }
      p->sockets.emplace_back(std::move(rtp), std::move(rtcp));
    }
    Impl::Participant& ref = *p;
    for (size_t i = 0; i < ref.sockets.size(); ++i) {
      impl_->receive(ref, static_cast<int>(i), Channel::kRtp, *ref.sockets[i].first);
      if (ref.sockets[i].second) impl_->receive(ref, static_cast<int>(i), Channel::kRtcp, *ref.sockets[i].second);
    }
    const int id = impl_->next_id++;
    impl_->participants.emplace(id, std::move(p));
    return id;
  });
}

void UdpIngest::remove(ParticipantId id) {
  impl_->run([&] {
    const auto it = impl_->participants.find(id);
    if (it == impl_->participants.end()) return;
    Impl::close(*it->second);
    // The receive handlers close() aborted still refer to it: free it after they ran.
    Impl::Participant* raw = it->second.get();
    impl_->retired.push_back(std::move(it->second));
    impl_->participants.erase(it);
    asio::post(impl_->io, [impl = impl_.get(), raw] {
      std::erase_if(impl->retired, [raw](const auto& p) { return p.get() == raw; });
    });
  });
}

void UdpIngest::request_keyframe(ParticipantId id, int stream) {
  asio::post(impl_->io, [this, id, stream] {
    const auto it = impl_->participants.find(id);
    if (it != impl_->participants.end()) it->second->receiver.request_keyframe(stream, impl_->now_us());
  });
}

std::vector<UdpIngest::StreamPorts> UdpIngest::ports(ParticipantId id) const {
  return impl_->run([&] {
    std::vector<StreamPorts> out;
    const auto it = impl_->participants.find(id);
    if (it == impl_->participants.end()) return out;
    for (const auto& [rtp, rtcp] : it->second->sockets) {
      const uint16_t rtp_port = rtp->socket.local_endpoint().port();
      out.push_back({rtp_port, rtcp ? rtcp->socket.local_endpoint().port() : rtp_port});
    }
    return out;
  });
}

std::vector<StreamStats> UdpIngest::stats(ParticipantId id) const {
  return impl_->run([&] {
    std::vector<StreamStats> out;
    const auto it = impl_->participants.find(id);
    if (it == impl_->participants.end()) return out;
    for (int i = 0; i < it->second->receiver.stream_count(); ++i) out.push_back(it->second->receiver.stream(i).stats());
    return out;
  });
}

int64_t UdpIngest::send_errors() const { return impl_->send_errors.load(); }

}  // namespace callrec::ingest
