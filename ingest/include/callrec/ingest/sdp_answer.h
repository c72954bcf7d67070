// What callrec answers a sender's SDP offer with, once UdpIngest has bound the offer's
// streams: the same streams, recvonly, at the ports really bound. Shared by LiveIngest
// (include/callrec/live_ingest.h) and the service's participants route.
#pragma once

#include <string>
#include <vector>

#include "callrec/ingest/sdp_description.h"
#include "callrec/ingest/udp_ingest.h"

namespace callrec::ingest {

// A participant has one voice, one camera and one screen share (a session has one input
// of each): throws callrec::Error naming the two streams of one kind otherwise.
void check_one_stream_per_track(const ParticipantMedia& media);

// The answer SDP (RTP/AVPF, recvonly, a=rtcp or a=rtcp-mux, nack pli for video, the
// audio level extension and a=content:slides as offered). `ports` from UdpIngest::ports(),
// one per stream of `media` (at least one).
std::string answer_sdp(const ParticipantMedia& media, const std::vector<UdpIngest::StreamPorts>& ports);

}  // namespace callrec::ingest
