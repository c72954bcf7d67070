// Helpers for the ingest tests: packets built from fields, a sink and an RTCP sender
// that record what they get.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "callrec/ingest/media_sink.h"
#include "callrec/ingest/rtcp_compound.h"
#include "callrec/ingest/rtp_packet.h"
#include "callrec/ingest/rtp_stream_receiver.h"

namespace callrec::ingest::test {

inline std::vector<uint8_t> rtp(const RtpHeaderFields& header, std::vector<uint8_t> payload,
                                std::vector<std::pair<int, std::vector<uint8_t>>> extensions = {}) {
  std::vector<uint8_t> out(12 + 4 + 64 + payload.size());
  std::vector<std::pair<int, std::span<const uint8_t>>> ext;
  for (const auto& [id, data] : extensions) ext.emplace_back(id, data);
  size_t written = 0;
  write_rtp_packet(header, payload, out, written, ext);
  out.resize(written);
  return out;
}

inline std::vector<uint8_t> sender_report(uint32_t ssrc, int64_t ntp_us, uint32_t rtp_timestamp) {
  SenderReport sr;
  sr.ssrc = ssrc;
  sr.ntp = NtpTime::from_us(ntp_us);
  sr.rtp_timestamp = rtp_timestamp;
  std::vector<uint8_t> out(64);
  out.resize(sr.serialize(out));
  return out;
}

struct RecordingSink : MediaSink {
  struct Audio {
    int64_t capture_us;
    uint32_t rtp_timestamp;
    int64_t lost_before;
    int64_t silence_before_48k;
    bool segment_start;
    uint32_t ssrc;
    std::optional<int> level;
    std::vector<uint8_t> payload;
  };
  struct Video {
    int64_t capture_us;
    uint32_t rtp_timestamp;
    bool keyframe;
    std::optional<int> temporal_layer;
    bool segment_start;
    uint32_t ssrc;
    std::vector<uint8_t> data;
  };
  void on_audio(const AudioPacket& p) override {
    audio.push_back({p.capture_time.us(), p.rtp_timestamp, p.packets_lost_before, p.silence_before_48k,
                     p.segment_start, p.ssrc, p.audio_level_dbov, {p.payload.begin(), p.payload.end()}});
  }
  void on_video(const VideoFrame& f) override {
    video.push_back({f.capture_time.us(), f.rtp_timestamp, f.keyframe, f.temporal_layer, f.segment_start, f.ssrc,
                     {f.data.begin(), f.data.end()}});
  }
  std::vector<Audio> audio;
  std::vector<Video> video;
};

struct RecordingRtcp : RtcpSender {
  void send_rtcp(int stream, std::span<const uint8_t> packet, const SourceAddress& to) override {
    sent.push_back({stream, to, RtcpCompound::parse(packet)});
  }
  struct Sent {
    int stream;
    SourceAddress to;
    std::optional<RtcpCompound> compound;
  };
  int plis() const {
    int n = 0;
    for (const auto& s : sent) n += s.compound ? static_cast<int>(s.compound->plis.size()) : 0;
    return n;
  }
  std::vector<Sent> sent;
};

// A VP8 payload descriptor with PictureID (15 bits), TL0PICIDX and TID/Y.
inline std::vector<uint8_t> vp8_payload(bool start, std::vector<uint8_t> data, std::optional<int> picture_id = {},
                                        std::optional<int> tl0 = {}, std::optional<int> tid = {}, bool sync = false) {
  std::vector<uint8_t> out;
  const bool x = picture_id || tl0 || tid;
  out.push_back(static_cast<uint8_t>((x ? 0x80 : 0) | (start ? 0x10 : 0)));
  if (x) {
    out.push_back(static_cast<uint8_t>((picture_id ? 0x80 : 0) | (tl0 ? 0x40 : 0) | (tid ? 0x20 : 0)));
    if (picture_id) {
      out.push_back(static_cast<uint8_t>(0x80 | ((*picture_id >> 8) & 0x7f)));
      out.push_back(static_cast<uint8_t>(*picture_id & 0xff));
    }
    if (tl0) out.push_back(static_cast<uint8_t>(*tl0));
    if (tid) out.push_back(static_cast<uint8_t>((*tid << 6) | (sync ? 0x20 : 0)));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// The first bytes of a VP8 key frame (frame tag with P=0, start code, 640x360) or of an
// inter frame (P=1).
inline std::vector<uint8_t> vp8_key_frame_start() { return {0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01, 0xaa}; }
inline std::vector<uint8_t> vp8_inter_frame_start() { return {0x31, 0x02, 0x00, 0xbb, 0xcc}; }

}  // namespace callrec::ingest::test
