#include "callrec/ingest/rtcp_compound.h"

#include "byte_io.h"

namespace callrec::ingest {

std::optional<RtcpCompound> RtcpCompound::parse(std::span<const uint8_t> datagram) {
  RtcpCompound compound;
  size_t at = 0;
  int packets = 0;
  while (at < datagram.size()) {
    const size_t left = datagram.size() - at;
    if (left < 4 || (datagram[at] >> 6) != 2) return std::nullopt;
    const size_t length = 4 * (size_t{read_u16(&datagram[at + 2])} + 1);
    if (length > left) return std::nullopt;
    const bool padded = (datagram[at] & 0x20) != 0;
    if (padded && length != left) return std::nullopt;  // only the last packet may pad
    const auto packet = datagram.subspan(at, length);
    bool ok = true;
    switch (static_cast<RtcpType>(packet[1])) {
      case RtcpType::kSenderReport:
        if (auto sr = SenderReport::parse(packet)) compound.sender_reports.push_back(std::move(*sr));
        else ok = false;
        break;
      case RtcpType::kReceiverReport:
        if (auto rr = ReceiverReport::parse(packet)) compound.receiver_reports.push_back(std::move(*rr));
        else ok = false;
        break;
      case RtcpType::kBye:
        if (auto bye = Bye::parse(packet)) compound.byes.push_back(std::move(*bye));
        else ok = false;
        break;
      case RtcpType::kPayloadFeedback:
        if ((packet[0] & 0x1f) == 1) {
          if (auto pli = FeedbackPli::parse(packet)) compound.plis.push_back(*pli);
          else ok = false;
        } else {
          ++compound.skipped_packets;
        }
        break;
      default:
        ++compound.skipped_packets;
        break;
    }
    if (!ok) return std::nullopt;
    at += length;
    ++packets;
  }
  if (packets == 0) return std::nullopt;
  return compound;
}

}  // namespace callrec::ingest
