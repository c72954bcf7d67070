// Turns a fragmented MP4 (the crash-safe form a chunk has while it is written) into a
// regular MP4 with moov before mdat, copying packets without re-encoding.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace callrec::muxer {

struct RemuxStats {
  int64_t video_frames = 0;
  int64_t audio_samples = 0;  // decoded audio duration (priming excluded)
  uint64_t size_bytes = 0;
};

// Copies every complete packet of `source` into `dest` (written with faststart).
// Fragmented MP4 loses the AAC encoder delay (no edit list in an empty moov), so the
// audio is shifted back by `audio_priming_samples` and the muxer writes the edit list
// again. `audio_end_samples` (after the shift) cuts the audio there: packets after it
// are dropped and the last one is shortened, which ends the edit list there. The video
// is moved so that its first picture (the first packet, a keyframe) is shown at 0: a
// chunk with B-frames holds it late (see ChunkWriter), and the muxer writes the edit
// list that skips the decode times before it.
// A truncated `source` (a crash mid-fragment) is accepted: copying stops at the first
// incomplete packet. Every picture before it stays decodable; with B-frames the last
// reference picture copied may be shown without the B-frames that came before it (the
// picture before it then stays on screen one period longer).
// Throws callrec::Error naming the files on failure.
RemuxStats remux_to_faststart(const std::filesystem::path& source, const std::filesystem::path& dest,
                              int64_t audio_priming_samples,
                              std::optional<int64_t> audio_end_samples = std::nullopt);

}  // namespace callrec::muxer
