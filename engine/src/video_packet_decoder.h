// VideoPacketDecoder: one participant track's encoded video (H.264 access units in
// Annex B, VP8 frames) decoded in a live session, one whole frame at a time.
//
// The decoder opens on the first packet and again when the codec changes or after
// reset() (a rejoin is a new sender). Each packet carries the call time it is shown
// at; the picture it decodes to keeps that time (the decoder reorders, the time
// follows the picture). Nothing here ends a recording: a codec that cannot open, a
// packet the decoder refuses, a picture it cannot make are reported in the result
// (the packet dropped), and the next packet tries again.
//
// Keyframes. A decoder that starts, or lost its reference pictures (a packet it could
// not decode), shows nothing until a keyframe comes; the result says when one is wanted
// so the sender can be asked for one (RTCP PLI/FIR), at most once per
// kKeyframeRequestInterval of media time.
//
// Threading: owned and used by the session's output thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "callrec/core/av.h"
#include "callrec/core/media_time.h"
#include "callrec/session.h"
#include "media_limits.h"
#include "picture_memory_budget.h"

namespace callrec::engine {

// Opens a decoder for `codec`; throws callrec::Error naming what failed. The default
// opens libavcodec's H.264 / VP8 decoder, one thread, pictures up to the media limits.
using VideoDecoderOpener = std::function<av::CodecContextPtr(VideoCodec codec)>;
av::CodecContextPtr open_video_decoder(VideoCodec codec);

// Whether an encoded frame is a keyframe: a VP8 key frame, or an H.264 access unit
// holding an IDR slice. Reads only what the span holds.
bool is_keyframe(VideoCodec codec, std::span<const uint8_t> frame);

class VideoPacketDecoder {
 public:
  static constexpr MediaTime kKeyframeRequestInterval = MediaTime::from_ms(1000);

  // `max_picture_bytes`: what the decoder's pictures may hold at once (PictureMemoryBudget).
  explicit VideoPacketDecoder(VideoDecoderOpener opener = open_video_decoder,
                              int64_t max_picture_bytes = MediaLimits::kMaxDecoderPictureBytes);

  struct Result {
    int pictures = 0;                    // handed to on_picture
    bool keyframe_wanted = false;        // ask the sender for a keyframe now
    std::optional<std::string> problem;  // why the packet (or a picture) was dropped
    bool decode_error = false;           // the problem is the decoder refusing the data
  };
  // Decodes `frame` (one whole encoded frame, shown at call time `at`). `padded` holds
  // the frame followed by AV_INPUT_BUFFER_PADDING_SIZE zero bytes (the decoder reads
  // in place); `size` is the frame's own length. on_picture(picture, at) sees each
  // decoded picture (valid for the call only).
  Result decode(VideoCodec codec, std::span<const uint8_t> padded, size_t size, MediaTime at,
                const std::function<void(const AVFrame&, MediaTime)>& on_picture);

  // Forgets the stream: the next packet opens a fresh decoder.
  void reset();

 private:
  VideoDecoderOpener opener_;
  int64_t max_picture_bytes_;
  std::shared_ptr<PictureMemoryBudget> picture_budget_;  // outlives context_
  av::CodecContextPtr context_;
  std::optional<VideoCodec> codec_;
  std::optional<Rational> time_base_;  // of the packets' timestamps, fixed at the first
  av::PacketPtr packet_;
  av::FramePtr picture_;
  bool waiting_for_keyframe_ = true;  // since opening or a decode error, no picture yet
  std::optional<MediaTime> last_request_;
  // After a codec failed to open: not again before this call time.
  std::optional<MediaTime> retry_open_at_;
};

}  // namespace callrec::engine
