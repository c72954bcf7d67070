// ParticipantReceiver: one participant's streams (one RtpStreamReceiver per m= line)
// and the ParticipantClock that keeps them in sync. The packet logic without sockets:
// UdpIngest feeds it from its sockets; tests and fuzzers feed it datagram by datagram
// in virtual time.
//
// Threading: one owner thread; the sink and RtcpSender are called on it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "callrec/ingest/media_sink.h"
#include "callrec/ingest/participant_clock.h"
#include "callrec/ingest/rtp_stream_receiver.h"
#include "callrec/ingest/sdp_description.h"

namespace callrec::ingest {

class ParticipantReceiver {
 public:
  // Throws callrec::Error when `media` is not valid (validate()).
  ParticipantReceiver(ParticipantMedia media, MediaSink& sink, RtcpSender& rtcp, ReceiverConfig config = {});
  ParticipantReceiver(const ParticipantReceiver&) = delete;
  ParticipantReceiver& operator=(const ParticipantReceiver&) = delete;

  // A datagram that arrived at `arrival_us` on `stream`'s RTP or RTCP port.
  void on_datagram(int stream, Channel channel, std::span<const uint8_t> data, const SourceAddress& from,
                   int64_t arrival_us);
  // Timeouts (reorder gaps, reports, PLI repeats, SSRC switches) due at `now_us`.
  void on_timer(int64_t now_us);
  std::optional<int64_t> next_deadline_us() const;
  // The consumer's decoder of `stream` needs a key frame.
  void request_keyframe(int stream, int64_t now_us);

  int stream_count() const { return static_cast<int>(streams_.size()); }
  const RtpStreamReceiver& stream(int index) const { return *streams_.at(static_cast<size_t>(index)); }
  const ParticipantMedia& media() const { return media_; }
  const ParticipantClock& clock() const { return clock_; }
  uint32_t receiver_ssrc() const { return receiver_ssrc_; }

 private:
  ParticipantMedia media_;
  uint32_t receiver_ssrc_;
  ParticipantClock clock_;
  std::vector<std::unique_ptr<RtpStreamReceiver>> streams_;
};

}  // namespace callrec::ingest
