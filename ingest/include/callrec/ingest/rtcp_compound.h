// RtcpCompound: a checked split of one RTCP datagram (RFC 3550 §6.1 compound packet,
// or a reduced-size RFC 5506 packet) into the packets callrec uses.
//
// Each packet's length field is checked against what remains; a packet that runs past
// the datagram, a wrong version, or padding anywhere but on the last packet rejects the
// whole datagram (RFC 3550 A.2). Packets of types callrec does not use (SDES, APP, XR,
// transport feedback...) are skipped by their length.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "callrec/ingest/rtcp_packets.h"

namespace callrec::ingest {

class RtcpCompound {
 public:
  static std::optional<RtcpCompound> parse(std::span<const uint8_t> datagram);

  std::vector<SenderReport> sender_reports;
  std::vector<ReceiverReport> receiver_reports;
  std::vector<FeedbackPli> plis;
  std::vector<Bye> byes;
  int skipped_packets = 0;  // well-formed packets of other types
};

}  // namespace callrec::ingest
