// AAC-LC encoder for the 16 kHz mono mix (FFmpeg's native `aac`).
//
// Audio arrives in periods of 2000 samples; AAC frames are 1024 samples. An
// AVAudioFifo carries the remainder between periods, and the partial last frame is
// encoded at flush. pts = samples sent (time base 1/16000); packets come out with
// pts shifted back by the encoder delay (initial_padding, 1024 samples).
// One instance per recording: chunks share it, so the audio is one continuous encode. Threading: used by one thread (the writer's).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "callrec/core/av.h"
#include "callrec/muxer/recording_writer.h"
#include "encoder_loop.h"

namespace callrec::muxer {

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
