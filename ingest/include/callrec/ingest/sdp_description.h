// A participant's media as callrec receives it: one StreamDescription per m= line, made
// by hand or read from SDP (SdpDescription::parse).
//
// The SDP is what a sender writes for its receiver, as `ffmpeg -sdp_file` does and as
// the plain transports of GStreamer, Janus and mediasoup describe theirs: the c= address
// and m= ports are where callrec listens. Read: v=, c= (session or media level, IPv4 or
// IPv6, unicast), m= (audio/video, RTP/AVP or RTP/AVPF; other media are ignored, port 0
// disables a stream), a=rtpmap, a=fmtp (packetization-mode, sprop-parameter-sets),
// a=rtcp, a=rtcp-mux, a=extmap (urn:ietf:params:rtp-hdrext:ssrc-audio-level, with
// vad=on), a=content:slides (a screen share). Everything else is skipped.
//
// Bad input throws callrec::Error with one line naming the SDP line and what is wrong,
// e.g. "line 9 (a=rtpmap:96 VP9/90000): codec VP9 is not supported (Opus, VP8, H264)";
// the caller puts the file name in front.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "callrec/ingest/media_sink.h"

namespace callrec::ingest {

struct PayloadFormat {
  uint8_t payload_type = 96;
  Codec codec = Codec::kOpus;
  int clock_rate_hz = 48000;
  int channels = 1;
  // H.264 only.
  int packetization_mode = 0;
  std::vector<std::vector<uint8_t>> parameter_sets;  // sprop-parameter-sets, decoded NAL units
};

struct StreamDescription {
  MediaKind kind = MediaKind::kAudio;
  std::string address = "127.0.0.1";  // where callrec listens (IPv4 or IPv6 literal)
  uint16_t rtp_port = 0;
  // RTCP: on rtcp_port (a=rtcp, or rtp_port + 1), or on rtp_port when rtcp_mux.
  std::optional<uint16_t> rtcp_port;
  bool rtcp_mux = false;
  std::vector<PayloadFormat> formats;  // at least one
  std::optional<int> audio_level_extension_id;  // RFC 6464, a=extmap id 1-255
  bool screen_share = false;                    // a=content:slides

  // 0 with rtp_port 0: any free port (UdpIngest).
  uint16_t rtcp_listen_port() const {
    return rtcp_mux ? rtp_port : rtcp_port.value_or(rtp_port == 0 ? 0 : static_cast<uint16_t>(rtp_port + 1));
  }
  const PayloadFormat* format(uint8_t payload_type) const;
};

struct ParticipantMedia {
  std::vector<StreamDescription> streams;
};

// Throws callrec::Error naming what is wrong (bad ports, no formats, two streams on one
// port, an unsupported codec...). SdpDescription::parse() already checks this.
// `allow_any_port`: port 0 means "any free port" (UdpIngest picks one; for tests).
void validate(const ParticipantMedia& media, bool allow_any_port = false);

class SdpDescription {
 public:
  static constexpr size_t kMaxBytes = 64 * 1024;
  static constexpr size_t kMaxLineBytes = 4096;
  static constexpr size_t kMaxStreams = 16;
  static constexpr size_t kMaxFormatsPerStream = 32;

  static ParticipantMedia parse(std::string_view text);
};

}  // namespace callrec::ingest
