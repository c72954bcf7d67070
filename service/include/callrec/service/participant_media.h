// How a participant's media reaches a recording: the participants route hands the
// participant's SDP offer (their RTP streams, as `ffmpeg -sdp_file` writes it) to a
// ParticipantMedia, which answers with where callrec listens and then feeds the media
// into whichever recording of the call is running.
//
// PHASE 1 (today): SdpEchoMedia. No RTP sockets are opened and no media flows: the offer
// is checked for its shape only (RFC 4566 lines, at least one audio or video RTP/AVP
// stream) and the answer is the offer as given. Participants still join and leave the
// recordings of their call, which show their placeholder tiles and silence.
// PHASE 2: an implementation over the RTP ingest library replaces SdpEchoMedia: accept()
// opens the sockets and writes their ports into the answer; attach() makes the link push
// into the engine session (RecordingSession::engine_session()); detach() stops that.
//
// Threading: accept() on a service thread; a MediaLink's methods are called under the
// service's lock, so they must return quickly.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace callrec::service {

class RecordingSession;

// One participant's media for as long as they are in the call.
class MediaLink {
 public:
  virtual ~MediaLink() = default;  // closes whatever the link opened
  virtual const std::string& answer_sdp() const = 0;
  // A recording of the call runs: feed it (the participant has joined it already).
  virtual void attach(RecordingSession& session) = 0;
  // That recording stops or the participant leaves: stop feeding it.
  virtual void detach() = 0;
};

class ParticipantMedia {
 public:
  virtual ~ParticipantMedia() = default;
  // Throws ApiError (400, target "sdp") when the offer cannot be used.
  virtual std::unique_ptr<MediaLink> accept(std::string_view call_id, std::string_view participant_id,
                                            std::string_view sdp_offer) = 0;
};

// Phase 1: validates the offer's shape and answers with the offer; feeds nothing.
class SdpEchoMedia final : public ParticipantMedia {
 public:
  std::unique_ptr<MediaLink> accept(std::string_view call_id, std::string_view participant_id,
                                    std::string_view sdp_offer) override;
};

}  // namespace callrec::service
