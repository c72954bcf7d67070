// RtpMedia: the participants route's media (participant_media.h) over the RTP ingest
// library (docs/ingest.md). One UdpIngest (one network thread) for the whole service.
//
// accept() parses the offer (callrec::ingest::SdpDescription: its c= address and m=
// ports are where callrec listens, as `ffmpeg -sdp_file` writes them), binds every
// stream's RTP and RTCP ports and answers with the ports bound (recvonly). The ports stay
// bound for as long as the link lives: while the participant is in the call, whether or
// not a recording runs. The ingest reorders, depacketizes and places each unit by the
// sender's RTCP sender reports on the service's own monotonic timeline; attach(session)
// records the offset between that timeline and the session's call time, and from then on
// every unit is pushed into the session at its capture time minus that offset (both are
// std::chrono::steady_clock, so the offset is exact). Without an attached session units
// are dropped after the ingest (lip sync, loss and keyframe state go on regardless).
// attach() also asks the sender for a key frame: the new session's decoder starts with one.
//
// Errors: an offer that cannot be used (bad SDP, two audio streams, a port that cannot
// be bound) throws ApiError 400 "InvalidSdp" (target "sdp") with the ingest's one line.
#pragma once

#include <memory>

#include "callrec/service/participant_media.h"

namespace callrec::service {

class RtpMedia final : public ParticipantMedia {
 public:
  RtpMedia();  // starts the network thread
  ~RtpMedia() override;
  std::unique_ptr<MediaLink> accept(std::string_view call_id, std::string_view participant_id,
                                    std::string_view sdp_offer) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with the links: the network thread outlives them all
};

}  // namespace callrec::service
