// Process-wide bounds on FFmpeg for reading untrusted media, set once by the callrec
// binary before it opens anything (docs/limits.md).
#pragma once

#include <cstddef>

namespace callrec::engine {

// The largest block FFmpeg may allocate at once (av_max_alloc). Every picture plane up
// to 8192x4320 at 16 bits (71 MB) and every packet up to the 32 MiB packet limit fit; a
// demuxer trusting a size field of a hostile header does not: a 152-byte WAV file made
// the WAV demuxer allocate (and zero) 1.6 GB.
inline constexpr size_t kMaxFfmpegAllocationBytes = size_t{128} << 20;

// Sets av_max_alloc(kMaxFfmpegAllocationBytes). It holds for the whole process: a
// program embedding callrec decides for itself whether to call it.
void limit_ffmpeg_allocations();

}  // namespace callrec::engine
