// libFuzzer: Opus packets with fuzzed contents and timestamps pushed into a live
// session (the embedding API's audio path: the participant's queue, its RTP clock, the
// output driver, the mixer's libopus decoder and limiter), in virtual time, with
// leaves and rejoins and pauses. See fuzz_session.h for what is checked.
//
// Input: records of [flags u8][delta_ms i16 BE][length u16 BE][length bytes of packet].
// The packet's RTP timestamp (48 kHz) moves on by delta_ms; with flags bit 1 it is
// pushed with a call time (MediaTime) of now + delta_ms instead. Flags: bit 0, the clock advances by delta_ms
// (0 to 250) after the push (arrivals follow the sender's clock; without it packets
// come in a burst); bit 2, the participant leaves and joins again first (a new sender);
// bit 3, pause (or resume) first; bits 4-6, an RFC 6464 audio level ((k - 1) * 20
// dBov; 0: none); bit 7, the packet is the second participant's.
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
  fuzzing::FuzzSession call(2);
  engine::LiveSession& s = call.session();
  uint32_t rtp[2] = {0x12345678u, 0xFFFFFF00u};
  int64_t call_ms[2] = {0, 0};
  bool paused = false;
  size_t at = 0;
  while (at + 5 <= size) {
    const uint8_t flags = data[at];
    const auto delta_ms = static_cast<int16_t>((data[at + 1] << 8) | data[at + 2]);
    size_t length = static_cast<size_t>((data[at + 3] << 8) | data[at + 4]);
    at += 5;
    length = std::min(length, size - at);
    const std::span<const uint8_t> packet(data + at, length);
    at += length;
    const int p = flags >> 7;
    const std::string id = fuzzing::FuzzSession::id(p);
    if (flags & 4) {
      (void)s.leave(id);
      (void)s.join(id, "Fuzz Er");
    }
    if (flags & 8) {
      (void)(paused ? s.resume("") : s.pause(""));
      paused = !paused;
    }
    const int level_code = (flags >> 4) & 7;
    const std::optional<int> level = level_code == 0 ? std::nullopt : std::optional<int>((level_code - 1) * 20);
    if (flags & 2) {
      call_ms[p] = s.now().ms() + delta_ms;
      (void)s.push_opus(id, packet, std::nullopt, MediaTime::from_ms(call_ms[p]), level);
    } else {
      rtp[p] += static_cast<uint32_t>(static_cast<int32_t>(delta_ms) * 48);
      (void)s.push_opus(id, packet, rtp[p], std::nullopt, level);
    }
    if (flags & 1) call.advance_ms(std::clamp<int64_t>(delta_ms, 0, 250));
  }
  call.finish();
  return 0;
}
