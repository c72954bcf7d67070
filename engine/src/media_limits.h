// MediaLimits: the bounds every input is held to, captured files and live pushes alike
// (docs/limits.md lists them with the reasons).
#pragma once

#include <cstdint>

namespace callrec::engine {

// Documented in docs/limits.md.
struct MediaLimits {
  // Streams a file may declare (the demuxer fails beyond this).
  static constexpr int kMaxStreams = 32;
  // Larger packets are skipped and reported.
  static constexpr int kMaxPacketBytes = 32 << 20;
  // Largest coded picture accepted; a larger video stream is ignored and reported.
  static constexpr int kMaxPictureSide = 8192;
  static constexpr int64_t kMaxPicturePixels = int64_t{8192} * 4320;  // DCI 8K
  // Bytes of pictures one video decoder may hold at once (references, reorder queue,
  // pictures not yet released): ten 8K 4:2:0 8-bit pictures. Past it the stream's
  // pictures are refused (see PictureMemoryBudget).
  static constexpr int64_t kMaxDecoderPictureBytes = int64_t{512} << 20;
  // Decoded pictures are scaled down to fit this box (the output canvas) early.
  static constexpr int kMaxDeliveredWidth = 1920;
  static constexpr int kMaxDeliveredHeight = 1080;
  // Audio outside these is ignored and reported.
  static constexpr int kMinSampleRateHz = 1000;
  static constexpr int kMaxSampleRateHz = 384000;
  static constexpr int kMaxChannels = 64;
  // Media past this call time ends the stream (a timestamp jump cannot make the
  // renderer produce days of output).
  static constexpr int64_t kMaxCallUs = int64_t{24} * 3600 * 1'000'000;
  // A Matroska/WebM file is opened again, where reading had come to, once its demuxer's
  // index has grown by this many entries (24 bytes each, one per keyframe read: every
  // audio packet): ~400 kB per file, five minutes of 20 ms Opus packets.
  static constexpr int64_t kMaxDemuxerIndexEntries = 16384;
  // Live pushes: longest audio frame or PCM block (a backend pushes 10-60 ms at a time),
  // largest Opus packet (RFC 6716 allows 1275 bytes a frame, 48 frames a packet).
  static constexpr int64_t kMaxPushedAudioUs = 2'000'000;
  static constexpr int kMaxOpusPacketBytes = 65536;
  // Demuxers allowed (FFmpeg names): single-file containers only.
  static constexpr const char* kFormatWhitelist =
      "matroska,webm,mov,mp4,ogg,wav,w64,mp3,aac,flac,ivf,h264,hevc,avi,flv,mpegts,caf,aiff,amr,m4v,mpeg,nut";
};

}  // namespace callrec::engine
