// RtpStreamReceiver: everything between one m= line's datagrams and its media units.
//
//   datagram ─► source check ─► RtpPacket ─► SSRC choice ─► SequenceUnwrapper
//     ─► ReorderBuffer ─► OpusDepacketizer | Vp8/H264Depacketizer ─► KeyframeGate
//     ─► Vp8LayerFilter ─► ParticipantClock (capture time) ─► MediaSink
//   RTCP ─► RtcpCompound ─► SenderClock (per SSRC), BYE
//   timer ─► reorder timeouts, receiver reports, PLI repeats ─► RtcpSender
//
// Sources. The first source address to send RTP is latched (likewise for RTCP);
// datagrams from others are dropped and counted, until the latched one has been silent
// for `source_switch_silence_us` (a sender restarted on a new port). RTCP goes back to
// the latched RTCP source (symmetric RTCP), or to the RTP source's port + 1 before any
// RTCP came, or to the RTP source with rtcp-mux.
// SSRCs. The first SSRC is taken. Packets of another one are held (up to 64) while the
// current one keeps sending, and dropped when they overflow; once the current one has
// been silent for `ssrc_switch_silence_us` or said BYE, the new one takes over with its
// held packets: a new segment (new reorder state, new key frame, placement continued
// from arrival). A sequence number jump beyond RFC 3550's dropout limits, confirmed by
// the next packet, is a restart of the same SSRC: also a new segment. So is an RTP
// timestamp jump that arrival times do not show (more than kResyncUs apart); a DTX pause
// (timestamps jump with arrival, sequence numbers contiguous) is not.
// Keyframes. While the gate waits for a key frame, a PLI goes to the sender at once and
// again every `pli_interval_us` until one comes.
//
// Threading: one owner thread; the sink and the RtcpSender are called on it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "callrec/ingest/keyframe_gate.h"
#include "callrec/ingest/media_sink.h"
#include "callrec/ingest/participant_clock.h"
#include "callrec/ingest/reorder_buffer.h"
#include "callrec/ingest/sdp_description.h"
#include "callrec/ingest/sender_clock.h"
#include "callrec/ingest/sequence_unwrapper.h"
#include "callrec/ingest/source_address.h"
#include "callrec/ingest/video_depacketizer.h"
#include "callrec/ingest/vp8_layer_filter.h"

namespace callrec::ingest {

enum class Channel { kRtp, kRtcp };

// Where RTCP the receiver writes goes (the socket owner sends it).
class RtcpSender {
 public:
  virtual ~RtcpSender() = default;
  virtual void send_rtcp(int stream, std::span<const uint8_t> packet, const SourceAddress& to) = 0;
};

struct ReceiverConfig {
  int reorder_capacity = 512;                // packets held per stream while a gap is open
  int64_t reorder_wait_us = 50'000;          // how long a gap may stay open
  int64_t ssrc_switch_silence_us = 150'000;
  int64_t source_switch_silence_us = 500'000;
  int64_t receiver_report_interval_us = 1'000'000;
  int64_t pli_interval_us = 500'000;
  // VP8 temporal layers decoded: the smallest set reaching this frame rate; nullopt
  // decodes every layer.
  std::optional<double> vp8_min_frame_rate = 7.0;
  std::string cname = "callrec";
};

struct StreamStats {
  int64_t rtp_datagrams = 0;           // every datagram taken as RTP, before any check
  int64_t rtcp_datagrams = 0;          // every datagram taken as RTCP, before any check
  int64_t packets_received = 0;        // RTP packets accepted into the reorder buffer
  int64_t bytes_received = 0;
  int64_t packets_lost = 0;            // sequence numbers given up
  int64_t packets_duplicate = 0;
  int64_t packets_late = 0;            // arrived after their gap was given up
  int64_t dropped_malformed = 0;       // not RTP, or lying about its lengths
  int64_t dropped_unexpected_source = 0;
  int64_t dropped_unexpected_ssrc = 0;
  int64_t dropped_unknown_payload_type = 0;
  int64_t dropped_padding_only = 0;
  int64_t dropped_bad_sequence = 0;    // a sequence jump not (yet) confirmed as a restart
  int64_t dropped_invalid_payload = 0; // not a valid Opus packet / VP8 / H.264 payload
  int64_t rtcp_received = 0;
  int64_t rtcp_malformed = 0;
  int64_t sender_reports = 0;
  int64_t audio_packets = 0;           // handed to the sink
  int64_t video_frames = 0;            // handed to the sink
  int64_t keyframes = 0;
  int64_t frames_broken = 0;           // incomplete or malformed, discarded
  int64_t frames_waiting_for_keyframe = 0;  // complete, but would not decode: held back
  int64_t frames_layer_dropped = 0;    // temporal layers the output does not need
  int64_t plis_sent = 0;
  int64_t receiver_reports_sent = 0;
  int64_t ssrc_changes = 0;
  int64_t segments = 0;                // segments started (first SSRC, changes, restarts, jumps)
};

class RtpStreamReceiver {
 public:
  static constexpr int64_t kMaxDropout = 3000;  // RFC 3550 A.1
  static constexpr int64_t kMaxMisorder = 100;
  static constexpr int64_t kResyncUs = 3'000'000;
  static constexpr size_t kMaxHeldOtherSsrc = 64;

  RtpStreamReceiver(int index, StreamDescription description, const ReceiverConfig& config, uint32_t receiver_ssrc,
                    ParticipantClock& clock, MediaSink& sink, RtcpSender& rtcp);
  ~RtpStreamReceiver();
  RtpStreamReceiver(const RtpStreamReceiver&) = delete;
  RtpStreamReceiver& operator=(const RtpStreamReceiver&) = delete;

  void on_datagram(Channel channel, std::span<const uint8_t> data, const SourceAddress& from, int64_t arrival_us);
  void on_timer(int64_t now_us);
  std::optional<int64_t> next_deadline_us() const;
  // The consumer cannot decode (a decoder error): hold frames back until a key frame,
  // and ask the sender for one.
  void request_keyframe(int64_t now_us);

  const StreamStats& stats() const { return stats_; }
  const StreamDescription& description() const { return description_; }
  std::optional<uint32_t> ssrc() const { return ssrc_; }
  const SenderClock* sender_clock() const;
  int max_kept_temporal_layer() const { return layer_filter_.max_kept_layer(); }

 private:
  // Per-SSRC state that must survive until the SSRC is the current one (its SRs may
  // come first).
  struct Source {
    uint32_t ssrc = 0;
    SenderClock clock;
    TimestampUnwrapper timestamps;
    std::optional<uint32_t> last_sr_compact;
    int64_t last_sr_arrival_us = 0;
    int64_t last_used_us = 0;
  };
  struct HeldPacket {
    std::vector<uint8_t> bytes;
    int64_t arrival_us;
  };

  bool accept_source(std::optional<SourceAddress>& latched, int64_t& last_us, const SourceAddress& from,
                     int64_t arrival_us);
  void handle_rtp(std::span<const uint8_t> data, int64_t arrival_us);
  void handle_rtcp(std::span<const uint8_t> data, int64_t arrival_us);
  void process_rtp(const RtpPacket& packet, std::span<const uint8_t> data, int64_t arrival_us);
  void deliver(const ReleasedPacket& released);
  void deliver_audio(const RtpPacket& packet, const PayloadFormat& format, int64_t ext_ts, int64_t lost_before,
                     int64_t arrival_us);
  void deliver_video(const RtpPacket& packet, const PayloadFormat& format, int64_t ext_ts, int64_t lost_before,
                     int64_t arrival_us);
  void switch_ssrc(uint32_t ssrc, int64_t now_us);
  void start_segment();
  Source& source(uint32_t ssrc, int64_t now_us);
  Source* find_source(uint32_t ssrc);
  std::optional<SourceAddress> rtcp_destination() const;
  void send_reports(int64_t now_us, bool with_pli);
  void maybe_send_pli(int64_t now_us);
  int64_t media_us(int64_t ext_ts, int clock_rate_hz) const;

  const int index_;
  const StreamDescription description_;
  const ReceiverConfig config_;
  const uint32_t receiver_ssrc_;
  ParticipantClock& clock_;
  MediaSink& sink_;
  RtcpSender& rtcp_;

  std::optional<SourceAddress> rtp_source_, rtcp_source_;
  int64_t rtp_source_last_us_ = 0, rtcp_source_last_us_ = 0;

  std::optional<uint32_t> ssrc_;
  bool ssrc_ended_ = false;
  int64_t last_packet_us_ = 0;
  std::vector<Source> sources_;  // the current SSRC's and a few others' (bounded)
  std::optional<uint32_t> other_ssrc_;
  std::deque<HeldPacket> held_;  // packets of other_ssrc_, waiting for a switch

  SequenceUnwrapper sequence_;
  std::optional<int64_t> highest_sequence_;
  std::optional<uint16_t> probation_sequence_;
  ReorderBuffer reorder_;
  std::unique_ptr<VideoDepacketizer> vp8_, h264_;
  std::optional<uint8_t> video_payload_type_;
  KeyframeGate gate_;
  // The gate waits and a frame was held back or broken (or the consumer asked): PLIs go
  // out. Not merely waiting: the first key frame may still be arriving.
  bool keyframe_needed_ = false;
  Vp8LayerFilter layer_filter_;
  bool segment_start_ = true;
  std::optional<std::pair<int64_t, int64_t>> last_media_arrival_;  // for timestamp jumps
  std::optional<int64_t> audio_end_ts_;  // extended RTP time where the last audio packet ended

  // Receiver report bookkeeping (RFC 3550 A.3, A.8).
  std::optional<int64_t> base_sequence_;
  int64_t received_ = 0;
  int64_t expected_prior_ = 0, received_prior_ = 0;
  double jitter_ = 0;  // RTP units; a statistic, not a timestamp
  std::optional<int64_t> last_transit_;
  std::optional<int64_t> next_report_us_;
  std::optional<int64_t> last_pli_us_;

  StreamStats stats_;
};

}  // namespace callrec::ingest
