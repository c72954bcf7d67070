#include "callrec/engine/ffmpeg_limits.h"

extern "C" {
#include <libavutil/mem.h>
}

namespace callrec::engine {

void limit_ffmpeg_allocations() { av_max_alloc(kMaxFfmpegAllocationBytes); }

}  // namespace callrec::engine
