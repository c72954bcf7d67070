// UdpIngest on loopback: real sockets, a few datagrams.
#include "callrec/ingest/udp_ingest.h"

#include <gtest/gtest.h>

#include <utility>

#include <boost/asio.hpp>
#include <thread>

#include "callrec/core/error.h"
#include "test_packets.h"

namespace callrec::ingest {
namespace {
namespace asio = boost::asio;
using asio::ip::udp;

struct LockedSink : MediaSink {
  void on_audio(const AudioPacket& p) override {
    std::lock_guard lock(mu);
    seqs.push_back(p.rtp_timestamp);
  }
  void on_video(const VideoFrame&) override {}
  size_t count() {
    std::lock_guard lock(mu);
    return seqs.size();
  }
  std::mutex mu;
  std::vector<uint32_t> seqs;
};

TEST(UdpIngestTest, ReceivesOnLoopbackAndReportsBack) {
  SteadyClock clock;
  UdpIngest ingest(clock);
  LockedSink sink;
  StreamDescription s;
  s.kind = MediaKind::kAudio;
  s.rtp_port = 0;  // any free port
  s.formats = {PayloadFormat{.payload_type = 111, .codec = Codec::kOpus}};
  const auto id = ingest.add(ParticipantMedia{{s}}, sink, ReceiverConfig{.receiver_report_interval_us = 100'000});
  const auto ports = ingest.ports(id);
  ASSERT_EQ(ports.size(), 1u);
  ASSERT_NE(ports[0].rtp, 0);
  ASSERT_NE(ports[0].rtcp, ports[0].rtp);

  asio::io_context io;
  udp::socket rtp(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  udp::socket rtcp(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const udp::endpoint to_rtp(asio::ip::make_address("127.0.0.1"), ports[0].rtp);
  const udp::endpoint to_rtcp(asio::ip::make_address("127.0.0.1"), ports[0].rtcp);
  rtcp.send_to(asio::buffer(test::sender_report(7, 3'900'000'000'000'000, 0)), to_rtcp);
  for (uint16_t i = 0; i < 20; ++i) {
    rtp.send_to(asio::buffer(test::rtp({.payload_type = 111, .sequence_number = i, .timestamp = 960u * i, .ssrc = 7},
                                       {0xfc, 1, 2})),
                to_rtp);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // A receiver report comes back to the RTCP socket that sent the sender report.
  std::vector<uint8_t> buf(1500);
  rtcp.non_blocking(true);
  std::optional<RtcpCompound> rr;
  for (int i = 0; i < 300 && !rr; ++i) {
    boost::system::error_code ec;
    udp::endpoint from;
    const size_t n = rtcp.receive_from(asio::buffer(buf), from, 0, ec);
    if (!ec) rr = RtcpCompound::parse(std::span<const uint8_t>(buf.data(), n));
    else std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(rr);
  ASSERT_EQ(rr->receiver_reports.size(), 1u);
  EXPECT_EQ(rr->receiver_reports[0].blocks.at(0).ssrc, 7u);
  for (int i = 0; i < 200 && sink.count() < 20; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(sink.count(), 20u);
  const auto stats = ingest.stats(id);
  EXPECT_EQ(stats.at(0).packets_received, 20);
  EXPECT_EQ(stats.at(0).sender_reports, 1);
  ingest.remove(id);
  EXPECT_TRUE(ingest.stats(id).empty());
}

TEST(UdpIngestTest, APortInUseIsNamed) {
  SteadyClock clock;
  UdpIngest ingest(clock);
  asio::io_context io;
  udp::socket taken(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  StreamDescription s;
  s.rtp_port = taken.local_endpoint().port();
  s.rtcp_mux = true;
  s.formats = {PayloadFormat{.payload_type = 111, .codec = Codec::kOpus}};
  LockedSink sink;
  try {
    ingest.add(ParticipantMedia{{s}}, sink);
    FAIL() << "bound a port in use";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1 port " + std::to_string(s.rtp_port)),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace callrec::ingest
