// libFuzzer: H.264 or VP8 frames with fuzzed contents and timestamps pushed into a live
// session (the embedding API's video path: the participant's queue, its RTP clocks, the
// session's decoders and their keyframe requests, the compositor), in virtual time,
// with leaves and rejoins and a screen share. See fuzz_session.h for what is checked.
//
// Input: [codec u8: even H.264, odd VP8] then records of
// [flags u8][delta_ms i16 BE][length u16 BE][length bytes of frame]. The frame's RTP
// timestamp (90 kHz) moves on by delta_ms; with flags bit 1 it is pushed with a call
// time of now + delta_ms instead. Flags: bit 0, the clock advances by delta_ms (0 to
// 250) after the push; bit 2, the participant leaves and joins again first; bit 3, the
// frame is on the screen-share track (the share is turned on, or off with bit 5);
// bit 4, the frame is in the other codec.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_session.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  av_log_set_level(AV_LOG_QUIET);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace callrec;
  if (size < 1) return 0;
  const VideoCodec codec = data[0] % 2 == 0 ? VideoCodec::kH264 : VideoCodec::kVp8;
  const VideoCodec other = codec == VideoCodec::kH264 ? VideoCodec::kVp8 : VideoCodec::kH264;
  fuzzing::FuzzSession call(1);
  engine::LiveSession& s = call.session();
  const std::string id = fuzzing::FuzzSession::id(0);
  uint32_t rtp[2] = {0xFFFF0000u, 77};
  size_t at = 1;
  while (at + 5 <= size) {
    const uint8_t flags = data[at];
    const auto delta_ms = static_cast<int16_t>((data[at + 1] << 8) | data[at + 2]);
    size_t length = static_cast<size_t>((data[at + 3] << 8) | data[at + 4]);
    at += 5;
    length = std::min(length, size - at);
    const std::span<const uint8_t> frame(data + at, length);
    at += length;
    if (flags & 4) {
      (void)s.leave(id);
      (void)s.join(id, "Fuzz Er");
    }
    const bool screen = flags & 8;
    if (screen) (void)s.set_screen_share(id, !(flags & 32));
    const VideoTrack track = screen ? VideoTrack::kScreen : VideoTrack::kCamera;
    const VideoCodec used = flags & 16 ? other : codec;
    if (flags & 2) {
      (void)s.push_video_packet(id, used, frame, std::nullopt, s.now() + MediaTime::from_ms(delta_ms), track);
    } else {
      uint32_t& ts = rtp[screen ? 1 : 0];
      ts += static_cast<uint32_t>(static_cast<int32_t>(delta_ms) * 90);
      (void)s.push_video_packet(id, used, frame, ts, std::nullopt, track);
    }
    if (flags & 1) call.advance_ms(std::clamp<int64_t>(delta_ms, 0, 250));
  }
  call.finish();
  return 0;
}
