// H.264 encoder for the 1920x1080 8 fps canvas (libx264 through libavcodec).
//
// One instance per chunk, so every chunk starts with an IDR frame and pts 0.
// Threading: used by one thread at a time (the writer's encode worker).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "callrec/core/av.h"
#include "encoder_loop.h"
#include "reuse_weighting.h"
#include "callrec/muxer/recording_writer.h"

namespace callrec::muxer {

// The packets one call gave back, in decode order: with B-frames a reference picture
// comes before the B-frames shown ahead of it. Each packet's pts is its picture's number
// in the encoder (0, 1, 2, ...), its dts the decode time x264 gives it (the first ones
// negative with B-frames).
using Packets = std::vector<av::PacketPtr>;

class VideoEncoder {
 public:
  // `what` names the output (a file) in error messages; `max_chunk_bytes` bounds the
  // VBV buffer of kAverageBitrate, so that no picture outgrows a chunk.
  VideoEncoder(const EncoderSettings& settings, uint64_t max_chunk_bytes, std::string what);

  // The quantizer offsets these settings call for (the caller annotates each picture
  // once, in order, and hands it to whichever encoder codes it), or null: reuse
  // weighting off, or a lossless encode.
  static std::unique_ptr<ReuseWeighting> make_reuse_weighting(const EncoderSettings& settings);

  AVCodecContext& context() { return *context_; }
  const AVCodecContext& context() const { return *context_; }

  // Encodes `picture` (1920x1080 yuv420p) with pts = frames sent so far at x264 CRF
  // `crf` (ignored when the settings are lossless), and returns the packets the encoder
  // has ready: one for this picture with zerolatency and no B-frames; otherwise none at
  // first and then one per picture, as many pictures late as the lookahead (or the
  // B-frames) hold back. The picture's quantizer offsets (region-of-interest side data,
  // from ReuseWeighting) go to x264 only when it is a reference picture: nothing
  // predicts from a B-frame. Sets picture.pts and picture.pict_type; leaves its side
  // data as it was. x264 copies the picture: the caller may reuse it once this returns.
  Packets encode(AVFrame& picture, double crf);
  // No more pictures: returns the packets still inside the encoder.
  Packets flush();
  int64_t frames_sent() const { return frames_sent_; }
  // Whether the last picture encoded went to x264 with quantizer offsets.
  bool last_picture_had_offsets() const { return last_had_offsets_; }

 private:
  Packets receive_all();

  std::string what_;
  av::CodecContextPtr context_;
  bool lossless_ = false;
  double crf_ = -1;  // as x264 was last told
  int64_t frames_sent_ = 0;
  bool last_had_offsets_ = false;
  int fixed_bframes_ = -1;  // B-frames in the fixed pattern; -1: x264 places them (a lookahead)
};

// Checks that `canvas` is a 1920x1080 yuv420p frame; throws callrec::Error otherwise.
void check_canvas(const AVFrame& canvas);

}  // namespace callrec::muxer
