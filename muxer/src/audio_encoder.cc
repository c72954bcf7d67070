#include "audio_encoder.h"

#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
}

#include "callrec/core/error.h"
#include "scoped_dictionary.h"

namespace callrec::muxer {
namespace {

// Room for two periods; av_audio_fifo_write grows it if ever needed, but the FIFO never
// holds more than one period plus one AAC frame.
constexpr int kFifoCapacitySamples = 2 * kSamplesPerPeriod + 1024;

}  // namespace

AudioEncoder::AudioEncoder(const EncoderSettings& settings, std::string what)
    : what_(std::move(what)), frame_(av::make_frame()) {
  const AVCodec* codec = avcodec_find_encoder_by_name("aac");
  if (codec == nullptr) throw Error(what_ + ": libavcodec has no native aac encoder");
  context_.reset(avcodec_alloc_context3(codec));
  if (!context_) throw Error(what_ + ": out of memory allocating the AAC encoder");

  AVCodecContext& c = *context_;
  c.sample_fmt = AV_SAMPLE_FMT_FLTP;
  c.sample_rate = kSampleRateHz;
  av_channel_layout_default(&c.ch_layout, 1);
  c.bit_rate = settings.audio_bitrate_bps;
  c.profile = FF_PROFILE_AAC_LOW;
  c.time_base = AVRational{1, kSampleRateHz};
  c.flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // AudioSpecificConfig goes into esds
  ScopedDictionary options;
  // No perceptual noise substitution: a PNS band is noise the decoder makes up from
  // its own random generator, so the same packets decode differently depending on
  // where decoding started, and a chunk's audio would no longer join the previous
  // chunk's sample for sample. At 32 kbit/s of speech it saves little.
  options.set("aac_pns", "0");
  check_av(avcodec_open2(&c, codec, options.address()), what_ + ": opening the AAC encoder");
  frame_size_ = c.frame_size;

  fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, 1, kFifoCapacitySamples));
  if (!fifo_) throw Error(what_ + ": out of memory allocating the audio FIFO");

  frame_->format = AV_SAMPLE_FMT_FLTP;
  check_av(av_channel_layout_copy(&frame_->ch_layout, &c.ch_layout), what_ + ": copying the channel layout");
  frame_->sample_rate = kSampleRateHz;
  frame_->nb_samples = frame_size_;
  check_av(av_frame_get_buffer(frame_.get(), 0), what_ + ": allocating the audio frame");
}

void AudioEncoder::send(std::span<const float> samples) {
  if (!samples.empty()) {
    // av_audio_fifo_write only reads through the plane pointer.
    void* planes[1] = {const_cast<float*>(samples.data())};
    const int written = av_audio_fifo_write(fifo_.get(), planes, static_cast<int>(samples.size()));
    if (written < static_cast<int>(samples.size())) {
      check_av(written < 0 ? written : AVERROR(ENOMEM), what_ + ": queueing audio samples");
    }
    samples_queued_ += static_cast<int64_t>(samples.size());
  }
  while (av_audio_fifo_size(fifo_.get()) >= frame_size_) send_fifo_frame(frame_size_);
}

void AudioEncoder::flush() {
  const int remaining = av_audio_fifo_size(fifo_.get());
  // The aac encoder accepts a short last frame (AV_CODEC_CAP_SMALL_LAST_FRAME) and pads it.
  if (remaining > 0) send_fifo_frame(remaining);
  send_frame(*context_, nullptr, what_);
}

void AudioEncoder::send_fifo_frame(int nb_samples) {
  check_av(av_frame_make_writable(frame_.get()), what_ + ": making the audio frame writable");
  frame_->nb_samples = nb_samples;
  const int read = av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(frame_->data), nb_samples);
  if (read != nb_samples) check_av(read < 0 ? read : AVERROR_BUG, what_ + ": reading the audio FIFO");
  frame_->pts = samples_encoded_;
  send_frame(*context_, frame_.get(), what_);
  samples_encoded_ += nb_samples;
  ++frames_sent_;
}

ReceiveStatus AudioEncoder::receive(AVPacket& packet) {
  const ReceiveStatus status = receive_packet(*context_, packet, what_);
  if (status == ReceiveStatus::kPacket) ++packets_received_;
  return status;
}

}  // namespace callrec::muxer
