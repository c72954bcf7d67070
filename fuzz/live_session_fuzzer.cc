// libFuzzer: a backend pushing anything at all through the embedding API: decoded audio
// frames and pictures of fuzzed rate, sample or pixel format, channel count, size and
// contents (NaN floats included), PCM, encoded frames, at fuzzed times, with joins,
// leaves, pauses and screen shares, into a live session in virtual time. The property
// checked (fuzz_session.h): nothing a participant sends ends the recording or breaks
// what the output gets.
//
// Input: records of [op u8][a u8][b u8][c u8][t i8][length u16 BE][length bytes]:
//   op % 8 = 0  push_audio_frame: rate kRates[a % 8], sample format b % 16 - 2 (0-11
//               valid), c % 72 channels, the bytes as its samples
//            1  push_video_frame: pixel format b (AVPixelFormat), (a % 64) * 6 + (a >> 6)
//               wide, (c % 64) * 4 + 1 high, the bytes as its first plane
//            2  push_pcm: 8 * (a + 1) hundred Hz, b % 10 channels, the bytes as samples
//            3  the clock advances 4 * a ms
//            4  participant a % 3 leaves, or joins when away
//            5  pause, or resume when paused
//            6  participant a % 3 shares a screen (b odd) or stops sharing
//            7  push_video_packet: VP8 (a odd) or H.264, RTP timestamp 90 * 10 * b
//   Participant: c % 3 for ops 0-2 and 7 (c & 64: the screen-share track); media is
//   placed at now + t * 10 ms, so some comes late and some ahead.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "callrec/core/av.h"
#include "fuzz_session.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
}

namespace {

constexpr int kRates[] = {0, 999, 8000, 16000, 44100, 48000, 384000, 1'000'000};

// Fills every plane of `f` with `bytes` repeated.
void fill(AVFrame& f, std::span<const uint8_t> bytes, int planes, size_t plane_bytes) {
  for (int p = 0; p < planes; ++p) {
    uint8_t* dst = f.extended_data[p];
    for (size_t i = 0; i < plane_bytes; ++i) dst[i] = bytes.empty() ? 0 : bytes[i % bytes.size()];
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  av_log_set_level(AV_LOG_QUIET);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace callrec;
  fuzzing::FuzzSession call(3);
  engine::LiveSession& s = call.session();
  bool present[3] = {true, true, true};
  bool paused = false;
  size_t at = 0;
  while (at + 7 <= size) {
    const uint8_t op = data[at], a = data[at + 1], b = data[at + 2], c = data[at + 3];
    const auto t = static_cast<int8_t>(data[at + 4]);
    const size_t declared = static_cast<size_t>((data[at + 5] << 8) | data[at + 6]);
    at += 7;
    const size_t length = std::min(declared, size - at);
    const std::span<const uint8_t> bytes(data + at, length);
    at += length;
    const std::string id = fuzzing::FuzzSession::id(c % 3);
    const MediaTime when = s.now() + MediaTime::from_ms(t * 10);
    switch (op % 8) {
      case 0: {
        const int format = b % 16 - 2;
        const int channels = c % 72;
        av::FramePtr f = av::make_frame();
        f->sample_rate = kRates[a % 8];
        f->format = format;
        av_channel_layout_default(&f->ch_layout, channels);
        const int bps = format >= 0 && format < AV_SAMPLE_FMT_NB ? av_get_bytes_per_sample(AVSampleFormat(format)) : 0;
        if (bps > 0 && channels > 0) {
          f->nb_samples = std::max<int>(1, static_cast<int>(length) / (bps * channels));
          if (av_frame_get_buffer(f.get(), 0) < 0) break;
          const bool planar = av_sample_fmt_is_planar(AVSampleFormat(format));
          fill(*f, bytes, planar ? channels : 1, static_cast<size_t>(f->nb_samples) * bps * (planar ? 1 : channels));
        } else {
          f->nb_samples = static_cast<int>(length);  // no buffers: must be refused
        }
        (void)s.push_audio_frame(id, *f, when);
        break;
      }
      case 1: {
        av::FramePtr f = av::make_frame();
        f->format = b;
        f->width = (a % 64) * 6 + (a >> 6);
        f->height = (c % 64) * 4 + 1;
        const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(AVPixelFormat(b));
        if (desc && !(desc->flags & AV_PIX_FMT_FLAG_HWACCEL) && f->width > 0 && av_frame_get_buffer(f.get(), 0) >= 0) {
          const size_t plane = static_cast<size_t>(std::abs(f->linesize[0])) * static_cast<size_t>(f->height);
          for (size_t i = 0; i < plane && !bytes.empty(); ++i) f->data[0][i] = bytes[i % bytes.size()];
        }
        (void)s.push_video_frame(id, *f, when, c & 64 ? VideoTrack::kScreen : VideoTrack::kCamera);
        break;
      }
      case 2: {
        const int channels = b % 10;
        std::vector<int16_t> pcm(length / 2);
        if (!pcm.empty()) std::memcpy(pcm.data(), bytes.data(), pcm.size() * 2);
        (void)s.push_pcm(id, pcm, 800 * (a + 1), channels, when);
        break;
      }
      case 3:
        call.advance_ms(4 * a);
        break;
      case 4: {
        const int p = a % 3;
        if (present[p]) {
          (void)s.leave(fuzzing::FuzzSession::id(p));
        } else {
          (void)s.join(fuzzing::FuzzSession::id(p), "Fuzz Er");
        }
        present[p] = !present[p];
        break;
      }
      case 5:
        (void)(paused ? s.resume("") : s.pause(""));
        paused = !paused;
        break;
      case 6:
        (void)s.set_screen_share(fuzzing::FuzzSession::id(a % 3), b & 1);
        break;
      case 7:
        (void)s.push_video_packet(id, a & 1 ? VideoCodec::kVp8 : VideoCodec::kH264, bytes, 900u * b, std::nullopt,
                                  c & 64 ? VideoTrack::kScreen : VideoTrack::kCamera);
        break;
    }
  }
  call.finish();
  return 0;
}
