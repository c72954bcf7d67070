#include "callrec/ingest/sdp_answer.h"

#include <sstream>

#include "callrec/core/error.h"

namespace callrec::ingest {

void check_one_stream_per_track(const ParticipantMedia& media) {
  int audio = -1, camera = -1, screen = -1;
  for (int i = 0; i < static_cast<int>(media.streams.size()); ++i) {
    const StreamDescription& s = media.streams[static_cast<size_t>(i)];
    int& first = s.kind == MediaKind::kAudio ? audio : (s.screen_share ? screen : camera);
    const char* what = s.kind == MediaKind::kAudio ? "audio" : (s.screen_share ? "screen-share" : "camera");
    if (first >= 0) {
      throw Error("streams " + std::to_string(first) + " and " + std::to_string(i) + " are both " + what +
                  " streams; a participant has one " + what + " stream (send others as another participant)");
    }
    first = i;
  }
}

std::string answer_sdp(const ParticipantMedia& media, const std::vector<UdpIngest::StreamPorts>& ports) {
  std::ostringstream sdp;
  const auto family = [](const std::string& address) {
    return address.find(':') != std::string::npos ? "IP6" : "IP4";
  };
  const std::string& first = media.streams.front().address;
  sdp << "v=0\r\no=- 0 0 IN " << family(first) << ' ' << first << "\r\ns=callrec\r\nt=0 0\r\n";
  for (size_t i = 0; i < media.streams.size() && i < ports.size(); ++i) {
    const StreamDescription& d = media.streams[i];
    sdp << "m=" << (d.kind == MediaKind::kAudio ? "audio" : "video") << ' ' << ports[i].rtp << " RTP/AVPF";
    for (const auto& f : d.formats) sdp << ' ' << static_cast<int>(f.payload_type);
    sdp << "\r\nc=IN " << family(d.address) << ' ' << d.address << "\r\n";
    if (d.rtcp_mux)
      sdp << "a=rtcp-mux\r\n";
    else
      sdp << "a=rtcp:" << ports[i].rtcp << "\r\n";
    for (const auto& f : d.formats) {
      sdp << "a=rtpmap:" << static_cast<int>(f.payload_type) << ' ' << to_string(f.codec) << '/' << f.clock_rate_hz;
      if (f.codec == Codec::kOpus) sdp << '/' << f.channels;
      sdp << "\r\n";
      if (f.codec == Codec::kH264)
        sdp << "a=fmtp:" << static_cast<int>(f.payload_type) << " packetization-mode=" << f.packetization_mode
            << "\r\n";
      if (f.codec != Codec::kOpus) sdp << "a=rtcp-fb:" << static_cast<int>(f.payload_type) << " nack pli\r\n";
    }
    if (d.audio_level_extension_id)
      sdp << "a=extmap:" << *d.audio_level_extension_id << " urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
    if (d.screen_share) sdp << "a=content:slides\r\n";
    sdp << "a=recvonly\r\n";
  }
  return sdp.str();
}

}  // namespace callrec::ingest
