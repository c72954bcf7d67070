// AAC-LC encoder for the 16 kHz mono mix (FFmpeg's native `aac`).
//
// Audio arrives in periods of 2000 samples; AAC frames are 1024 samples. An
// AVAudioFifo carries the remainder between periods, and the partial last frame is
// encoded at flush. pts = samples sent within the chunk (time base 1/16000).
// One instance per chunk. Threading: used by one thread (the writer's).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "callrec/core/av.h"
#include "callrec/muxer/recording_writer.h"
#include "encoder_loop.h"

namespace callrec::muxer {

// The largest AAC-LC frame of one channel: 6144 bits (ISO/IEC 14496-3, 4.5.3.2).
inline constexpr int64_t kMaxAacFrameBytes = 6144 / 8;

class AudioEncoder {
 public:
  AudioEncoder(const EncoderSettings& settings, std::string what);

  AVCodecContext& context() { return *context_; }
  const AVCodecContext& context() const { return *context_; }

  // Queues `samples` and sends every complete 1024-sample frame. Call receive() until
  // kNeedInput after each call.
  void send(std::span<const float> samples);
  // Sends the partial last frame (if any) and flushes the encoder.
  void flush();
  ReceiveStatus receive(AVPacket& packet);

  // Upper bound of the packets this encoder will still emit if `extra_samples` more
  // are sent and then it is flushed: frames inside the encoder, frames in the FIFO and
  // the extra ones, plus the frame of encoder delay.
  int64_t max_pending_packets(int64_t extra_samples) const;
  int64_t samples_sent() const { return samples_queued_; }

 private:
  void send_fifo_frame(int nb_samples);

  std::string what_;
  av::CodecContextPtr context_;
  av::AudioFifoPtr fifo_;
  av::FramePtr frame_;
  int frame_size_ = 0;
  int64_t samples_queued_ = 0;   // samples accepted by send()
  int64_t samples_encoded_ = 0;  // samples sent to the encoder = pts of the next frame
  int64_t frames_sent_ = 0;
  int64_t packets_received_ = 0;
};

}  // namespace callrec::muxer
