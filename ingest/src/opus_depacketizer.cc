#include "callrec/ingest/opus_depacketizer.h"

namespace callrec::ingest {

std::optional<int> OpusDepacketizer::duration_48k(std::span<const uint8_t> payload) {
  if (payload.empty()) return std::nullopt;
  const int toc = payload[0];
  const int config = toc >> 3;
  int frame_48k = 0;
  if (config < 12) {  // SILK: 10, 20, 40, 60 ms
    static constexpr int kSilk[] = {480, 960, 1920, 2880};
    frame_48k = kSilk[config & 3];
  } else if (config < 16) {  // hybrid: 10, 20 ms
    frame_48k = (config & 1) ? 960 : 480;
  } else {  // CELT: 2.5, 5, 10, 20 ms
    static constexpr int kCelt[] = {120, 240, 480, 960};
    frame_48k = kCelt[config & 3];
  }
  int frames = 0;
  switch (toc & 3) {
    case 0: frames = 1; break;
    case 1:
    case 2: frames = 2; break;
    default:
      if (payload.size() < 2) return std::nullopt;
      frames = payload[1] & 0x3f;
      if (frames == 0) return std::nullopt;
      break;
  }
  const int total = frames * frame_48k;
  if (total > 5760) return std::nullopt;  // RFC 6716: at most 120 ms
  return total;
}

}  // namespace callrec::ingest
