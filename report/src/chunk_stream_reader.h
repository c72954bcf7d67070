// ChunkStreamReader: decodes one stream (the video or the audio) of a chunk .mp4.
//
// Only the chosen stream's packets are read (the other is discarded by the demuxer,
// which skips over its bytes), only the file itself is opened (no protocols, MP4 only:
// a recording directory is not trusted), and the decoder runs on the caller's thread.
//
// Threading: one reader is used by one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "callrec/core/av.h"

extern "C" {
#include <libavutil/avutil.h>
}

extern "C" struct AVStream;

namespace callrec::report {

class ChunkStreamReader {
 public:
  // Throws callrec::Error naming the file when it cannot be opened or has no such stream.
  ChunkStreamReader(const std::filesystem::path& mp4, AVMediaType type);

  // The next decoded frame in presentation order, or nullptr at the end of the stream
  // (a damaged packet is skipped and counted). The frame is valid until the next call.
  const AVFrame* next_frame();
  // Positions at the keyframe at or before `stream_ts` (stream time base); the next
  // frame decoded is that keyframe.
  void seek(int64_t stream_ts);
  // Pictures presented before `ms` are wanted for reference only: the decoder skips
  // those no other picture refers to. nullopt: decode every picture.
  void skip_unreferenced_before(std::optional<int64_t> ms) { skip_before_ms_ = ms; }

  struct Keyframe {
    int64_t ms;         // approximate presentation time (the index holds decode times)
    int64_t stream_ts;  // what seek() takes
  };
  // The stream's keyframes from the file's index, in order.
  std::vector<Keyframe> keyframes() const;

  // Presentation time of a frame returned by next_frame(), in milliseconds.
  int64_t frame_ms(const AVFrame& frame) const;
  const AVStream& stream() const { return *stream_; }
  int frames_decoded() const { return frames_decoded_; }
  int packets_damaged() const { return packets_damaged_; }

 private:
  std::filesystem::path path_;
  av::InputFormatPtr format_;
  AVStream* stream_ = nullptr;
  av::CodecContextPtr decoder_;
  av::PacketPtr packet_;
  av::FramePtr frame_;
  bool draining_ = false;
  std::optional<int64_t> skip_before_ms_;
  int frames_decoded_ = 0;
  int packets_damaged_ = 0;
};

// Bytes of video and of audio in a chunk, summed from its index (no media is read).
struct StreamBytes {
  int64_t video = 0;
  int64_t audio = 0;
};
StreamBytes chunk_stream_bytes(const std::filesystem::path& mp4);

}  // namespace callrec::report
