// callrec::LiveIngest — a live recording fed by RTP (docs/ingest.md, "Recording a call
// from RTP"): each participant's streams, described by SDP or by RtpParticipantMedia, are
// received on UDP, reordered, depacketized, placed in sync by their RTCP sender reports,
// and pushed into a callrec::Session.
//
//   std::unique_ptr<callrec::LiveIngest> ingest;
//   callrec::Session session({.out_dir = "rec", .call_id = "c0ffee",
//                             .on_event = [&](const callrec::SessionEvent& e) { ingest->on_session_event(e); }});
//   ingest = std::make_unique<callrec::LiveIngest>(session);   // before start()
//   session.start();
//   auto added = ingest->add_participant("ada", sdp_text, "Ada Lovelace");
//   // added.status, added.streams[i].rtp_port: where ada's sender must send
//   ...
//   ingest->remove_participant("ada");
//   session.stop(); session.wait();   // then destroy ingest, then session
//
// Time. Datagrams are stamped on arrival with the session's own clock (Session::now(),
// call time), and each unit is pushed with its capture time on that clock (the MediaTime
// push overloads): the ingest's lip sync is the placement, the session does not anchor
// RTP timestamps a second time. A new segment (SSRC change, sender restart, simulcast
// layer switch) continues where the last one was: no jump.
//
// Keyframes. The session's kKeyframeWanted events, handed to on_session_event(), become
// PLIs to that participant's sender (the ingest already asks for one after a loss).
//
// Tracks. One audio stream (Opus), one camera stream (VP8 or H.264) and one screen-share
// stream (a=content:slides, or RtpStreamConfig::screen_share) per participant; the
// screen share is switched on with its first frame and off when the participant leaves.
//
// Threading. Every method may be called from any thread. One network thread per
// LiveIngest receives every participant's datagrams and calls the session's push methods.
// Destroy the LiveIngest before its Session, and after the last call to
// on_session_event (after Session::wait(), or once the session's callback no longer
// reaches it).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "callrec/session.h"

namespace callrec {

enum class RtpCodec { kOpus, kVp8, kH264 };

// One stream (an SDP m= line): where callrec listens and what arrives there.
struct RtpStreamConfig {
  RtpCodec codec = RtpCodec::kOpus;  // Opus is audio, VP8 and H.264 video
  uint8_t payload_type = 96;
  std::string address = "127.0.0.1";  // the local address to listen on (IPv4 or IPv6 literal)
  uint16_t rtp_port = 0;              // 0: any free port (the answer tells which)
  std::optional<uint16_t> rtcp_port;  // RTCP: this port, rtp_port + 1 by default ...
  bool rtcp_mux = false;              // ... or the RTP port itself (RFC 5761)
  bool screen_share = false;          // video: the participant's screen share
  std::optional<int> audio_level_extension_id;  // RFC 6464 a=extmap id, when negotiated
  // H.264: SPS and PPS NAL units (without start codes) when the sender sends them only
  // out of band (sprop-parameter-sets).
  std::vector<std::vector<uint8_t>> h264_parameter_sets;
};

struct RtpParticipantMedia {
  std::vector<RtpStreamConfig> streams;
};

struct LiveIngestConfig {
  // How long a sequence gap is waited for before its packets count as lost.
  std::chrono::milliseconds reorder_wait{50};
  // VP8 temporal layers decoded: the fewest reaching this frame rate (the output shows
  // 8 pictures a second); nullopt decodes every layer.
  std::optional<double> vp8_min_frame_rate = 7.0;
  std::string cname = "callrec";  // in the receiver reports' SDES
};

class LiveIngest {
 public:
  // `session` must outlive the LiveIngest. Starts the network thread.
  explicit LiveIngest(Session& session, LiveIngestConfig config = {});
  // Closes every participant's sockets (without leave(): the session ends them at stop).
  ~LiveIngest();
  LiveIngest(const LiveIngest&) = delete;
  LiveIngest& operator=(const LiveIngest&) = delete;

  // Where one stream listens (the answer to the sender).
  struct StreamAnswer {
    bool audio = true;
    bool screen_share = false;
    std::string address;
    uint16_t rtp_port = 0;
    uint16_t rtcp_port = 0;  // == rtp_port with rtcp-mux
    bool rtcp_mux = false;
  };
  struct Added {
    Status status;                     // kInvalidArgument: bad SDP/description, or a port that cannot be bound
    std::vector<StreamAnswer> streams;  // in the order of the description's streams
    std::string answer_sdp;             // the same as SDP (recvonly), for the sender
  };
  // Joins the participant to the session and opens their ports. Bad SDP gets one line
  // naming the SDP line and what is wrong ("line 9 (a=rtpmap:96 VP9/90000): codec VP9
  // is not supported (Opus, VP8, H264)"); nothing is joined then.
  Added add_participant(std::string_view participant_id, std::string_view sdp, std::string_view display_name = {});
  Added add_participant(std::string_view participant_id, const RtpParticipantMedia& media,
                        std::string_view display_name = {});
  // Closes the participant's sockets (nothing of theirs is pushed after this returns) and
  // makes them leave the session.
  Status remove_participant(std::string_view participant_id);

  // Hand every event of the session here (SessionConfig::on_event): kKeyframeWanted
  // becomes a PLI to that participant's sender; other events are ignored.
  void on_session_event(const SessionEvent& event);

  struct StreamStats {
    int64_t datagrams = 0;              // every RTP datagram that reached the stream's port
    int64_t packets_received = 0;
    int64_t packets_lost = 0;
    int64_t packets_dropped = 0;        // malformed, unexpected source/SSRC/payload type, padding only
    int64_t sender_reports = 0;
    int64_t units = 0;                  // Opus packets / video frames handed to the session
    int64_t keyframes = 0;
    int64_t frames_held_for_keyframe = 0;  // not decodable after a loss: never shown (no mosaics)
    int64_t plis_sent = 0;
    int64_t segments = 0;               // first SSRC, SSRC changes, restarts
    int64_t pushes_refused = 0;         // the session refused the push (queue full, too late, ...)
  };
  // Per stream, in the description's order; empty for an unknown participant.
  std::vector<StreamStats> stats(std::string_view participant_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec
