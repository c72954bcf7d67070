// How a participant's media reaches a recording: the participants route hands the
// participant's SDP offer (their RTP streams, as `ffmpeg -sdp_file` writes it) to a
// ParticipantMedia, which binds where callrec listens, answers with it, and then feeds
// the media into whichever recording of the call is running (docs/service.md, "Calls,
// participants and their media").
//
//   RtpMedia (rtp_media.h)  the service's: RTP received on UDP through the ingest
//                           library, pushed into the attached recording's session.
//   SdpEchoMedia            for the router's tests and the fuzzer: no sockets; the offer
//                           is checked for its shape only and answered with itself.
//
// Threading: accept() on a service thread, outside the service's lock (it may wait for
// sockets to be bound); a MediaLink's other methods are called under the service's lock,
// so they must return quickly. A link is destroyed outside that lock.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "callrec/session.h"

namespace callrec::service {

class RecordingSession;

// One participant's media for as long as they are in the call.
class MediaLink {
 public:
  virtual ~MediaLink() = default;  // closes whatever the link opened
  virtual const std::string& answer_sdp() const = 0;
  // A recording of the call runs: feed it (the participant has joined it already).
  virtual void attach(RecordingSession& session) = 0;
  // That recording stops or the participant leaves: stop feeding it. Nothing reaches the
  // session after this returns (the session may be destroyed next).
  virtual void detach() = 0;
  // The attached recording's decoder of `track` needs a key frame (kKeyframeWanted):
  // ask the sender (RTCP PLI).
  virtual void keyframe_wanted(VideoTrack /*track*/) {}
};

class ParticipantMedia {
 public:
  virtual ~ParticipantMedia() = default;
  // Throws ApiError (400, target "sdp") when the offer cannot be used.
  virtual std::unique_ptr<MediaLink> accept(std::string_view call_id, std::string_view participant_id,
                                            std::string_view sdp_offer) = 0;
};

// For tests and the fuzzer: validates the offer's shape and answers with the offer;
// opens nothing, feeds nothing.
class SdpEchoMedia final : public ParticipantMedia {
 public:
  std::unique_ptr<MediaLink> accept(std::string_view call_id, std::string_view participant_id,
                                    std::string_view sdp_offer) override;
};

}  // namespace callrec::service
