// What ingest hands on: one participant's media units with capture times, and the sink
// interface the consumer (the engine's session, or a test) implements.
//
// Capture times are on the caller's timeline: the Clock given to the receiver (its
// now() is the arrival time of every datagram) defines it, and a unit's capture time is
// where on that timeline it belongs (docs/ingest.md, "Time"). For one participant,
// audio and video with RTCP sender reports share one mapping, so they are in sync.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "callrec/core/media_time.h"

namespace callrec::ingest {

enum class MediaKind { kAudio, kVideo };
enum class Codec { kOpus, kVp8, kH264 };
const char* to_string(Codec codec);

struct AudioPacket {
  int stream = 0;                     // index of the m= line in the participant's description
  std::span<const uint8_t> payload;   // one Opus packet (RFC 7587); valid during on_audio() only
  MediaTime capture_time{0, kMicroseconds};  // of its first sample
  int duration_48k = 0;               // samples at 48 kHz, from the packet's TOC
  // Sequence numbers lost just before this packet (concealment: libopus PLC, or FEC
  // from this packet). A DTX pause is a timestamp jump with no number missing: 0 here,
  // and `silence_before_48k` says how long it was.
  int64_t packets_lost_before = 0;
  int64_t silence_before_48k = 0;     // timestamp jump beyond the last packet's end, no loss
  std::optional<int> audio_level_dbov;  // RFC 6464: 0 loudest .. 127 silence
  std::optional<bool> voice_activity;   // RFC 6464 V bit, when negotiated with vad=on
  bool segment_start = false;  // first packet of a new source/segment: no concealment across
  uint32_t ssrc = 0;
  uint32_t rtp_timestamp = 0;
};

struct VideoFrame {
  int stream = 0;
  Codec codec = Codec::kVp8;
  // One whole encoded frame: a VP8 frame, or an H.264 access unit in Annex B with SPS and
  // PPS in front of every IDR. Valid during on_video() only.
  std::span<const uint8_t> data;
  MediaTime capture_time{0, kMicroseconds};
  bool keyframe = false;
  std::optional<int> temporal_layer;  // VP8 TID, when the sender marks layers
  std::optional<int> width;           // from a VP8 key frame header
  std::optional<int> height;
  bool segment_start = false;         // first frame of a new source/segment (a key frame)
  uint32_t ssrc = 0;
  uint32_t rtp_timestamp = 0;
};

// Receives a participant's units in the order they can be decoded (sequence order).
// Called on the receiver's thread (UdpIngest: its network thread); an implementation
// copies what it keeps and returns quickly.
class MediaSink {
 public:
  virtual ~MediaSink() = default;
  virtual void on_audio(const AudioPacket& packet) = 0;
  virtual void on_video(const VideoFrame& frame) = 0;
};

}  // namespace callrec::ingest
