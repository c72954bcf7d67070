// libFuzzer: H.264 or VP8 packets decoded with libavcodec and pushed, with fuzzed
// timestamps, into the VideoCompositor (the embedding API's video path), composing
// as it goes.
//
// Input: [codec u8: even H.264, odd VP8] then records of
// [flags u8][delta_ms i16 BE][length u16 BE][length bytes of packet].
// flags bit 0: compose after the push; bit 1: end the video; bit 2: leave and rejoin.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "callrec/compositor/video_compositor.h"
#include "callrec/core/av.h"
#include "callrec/core/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
}

namespace {
// Pictures are capped as MediaInput caps them; larger ones are scaled there, which the
// media-input harness covers. Kept small here so the fuzzer stays fast.
constexpr int64_t kMaxPixels = 1920 * 1080;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  av_log_set_level(AV_LOG_QUIET);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace callrec;
  if (size < 1) return 0;
  const AVCodec* codec = avcodec_find_decoder(data[0] % 2 == 0 ? AV_CODEC_ID_H264 : AV_CODEC_ID_VP8);
  av::CodecContextPtr decoder(avcodec_alloc_context3(codec));
  decoder->thread_count = 1;
  decoder->max_pixels = kMaxPixels;
  if (avcodec_open2(decoder.get(), codec, nullptr) < 0) return 0;
  av::PacketPtr packet = av::make_packet();
  av::FramePtr picture = av::make_frame();
  try {
    compositor::VideoCompositor compositor(compositor::Size{640, 360});
    std::optional<compositor::ParticipantId> tile = compositor.join("8:acs:fuzz", "Fuzz Er");
    int64_t ts_ms = 0;
    int64_t last_pushed_ms = INT64_MIN / 2;
    int64_t composed_ms = INT64_MIN / 2;  // the output clock only moves forward
    const auto compose = [&] {
      composed_ms = std::max(composed_ms + 125, ts_ms);
      compositor.compose(MediaTime::from_ms(composed_ms));
    };
    size_t at = 1;
    const auto receive_all = [&] {
      while (avcodec_receive_frame(decoder.get(), picture.get()) >= 0) {
        // The engine keeps a participant's frames in time order before pushing.
        const int64_t pts_ms = std::max(ts_ms, last_pushed_ms + 1);
        last_pushed_ms = pts_ms;
        compositor.push_frame(*tile, *picture, MediaTime::from_ms(pts_ms));
        av_frame_unref(picture.get());
      }
    };
    while (at + 5 <= size) {
      const uint8_t flags = data[at];
      const auto delta_ms = static_cast<int16_t>((data[at + 1] << 8) | data[at + 2]);
      size_t length = static_cast<size_t>((data[at + 3] << 8) | data[at + 4]);
      at += 5;
      length = std::min(length, size - at);
      ts_ms += delta_ms;
      if (av_new_packet(packet.get(), static_cast<int>(length)) < 0) break;
      std::copy(data + at, data + at + length, packet->data);
      at += length;
      packet->pts = ts_ms;
      if (avcodec_send_packet(decoder.get(), packet.get()) >= 0) receive_all();
      av_packet_unref(packet.get());
      if (flags & 2) compositor.end_video(*tile);
      if (flags & 4) {
        compositor.leave(*tile);
        tile = compositor.join("8:acs:fuzz", "Fuzz Er");
      }
      if (flags & 1) compose();
    }
    avcodec_send_packet(decoder.get(), nullptr);
    receive_all();
    compose();
  } catch (const Error&) {
  }
  return 0;
}
