#include "opus_packet_decoder.h"

#include <algorithm>

#include <opus/opus.h>

#include "callrec/core/error.h"

namespace callrec::mixer {
namespace {
constexpr int kMaxPacketSamples = kOpusRateHz * 120 / 1000;  // Opus' longest packet
constexpr int kPlcGranule = kOpusRateHz / 400;              // PLC works in 2.5 ms steps
constexpr int64_t kContiguitySamples = kOpusRateHz / 500;   // 2 ms, as for decoded frames
}  // namespace

void OpusPacketDecoder::DecoderDeleter::operator()(OpusDecoder* d) const { opus_decoder_destroy(d); }

OpusPacketDecoder::OpusPacketDecoder(std::string source_name) : source_name_(std::move(source_name)) {
  int error = OPUS_OK;
  decoder_.reset(opus_decoder_create(kOpusRateHz, 1, &error));
  if (error != OPUS_OK || !decoder_) {
    throw Error("audio of participant " + source_name_ + ": creating the Opus decoder: " + opus_strerror(error));
  }
  pcm_.resize(static_cast<size_t>(kMaxConcealSamples + kPlcGranule + 2 * kMaxPacketSamples));
}

OpusPacketDecoder::~OpusPacketDecoder() = default;

bool OpusPacketDecoder::has_fec(std::span<const uint8_t> packet) {
  // Same reading of the bitstream as WebRTC's WebRtcOpus_PacketHasFec: the LBRR flag
  // of each channel follows that channel's VAD flags at the start of the first frame.
  if (packet.empty() || (packet[0] & 0x80) != 0) return false;  // empty or CELT-only
  const int frame_ms = std::max(10, opus_packet_get_samples_per_frame(packet.data(), kOpusRateHz) / 48);
  int silk_frames = 0;
  switch (frame_ms) {
    case 10:
    case 20: silk_frames = 1; break;
    case 40: silk_frames = 2; break;
    case 60: silk_frames = 3; break;
    default: return false;
  }
  const int channels = opus_packet_get_nb_channels(packet.data());
  const unsigned char* frames[48];
  opus_int16 sizes[48];
  if (opus_packet_parse(packet.data(), static_cast<opus_int32>(packet.size()), nullptr, frames, sizes, nullptr) <= 0 ||
      sizes[0] <= 1) {
    return false;
  }
  for (int c = 0; c < channels; ++c) {
    if (frames[0][0] & (0x80 >> ((c + 1) * (silk_frames + 1) - 1))) return true;
  }
  return false;
}

int OpusPacketDecoder::decode_into(const uint8_t* data, int length, int max_samples, bool fec) {
  return opus_decode_float(decoder_.get(), data, length, pcm_.data() + used_, max_samples, fec ? 1 : 0);
}

void OpusPacketDecoder::conceal(int64_t samples, std::span<const uint8_t> fec_packet) {
  int64_t plc = samples;
  int fec_samples = 0;
  if (!fec_packet.empty() && has_fec(fec_packet)) {
    fec_samples = opus_packet_get_nb_samples(fec_packet.data(), static_cast<opus_int32>(fec_packet.size()),
                                             kOpusRateHz);
    if (fec_samples <= 0 || fec_samples > samples) fec_samples = 0;
    plc -= fec_samples;
  }
  // PLC in 2.5 ms granules; a remainder below one granule is left for placement, which
  // treats it as within the contiguity tolerance.
  plc -= plc % kPlcGranule;
  while (plc > 0) {
    const int chunk = static_cast<int>(std::min<int64_t>(plc, kMaxPacketSamples));
    const int got = decode_into(nullptr, 0, chunk, false);
    if (got <= 0) break;  // cannot conceal: placement fills silence instead
    used_ += static_cast<size_t>(got);
    plc -= got;
  }
  if (fec_samples > 0) {
    const int got = decode_into(fec_packet.data(), static_cast<int>(fec_packet.size()), fec_samples, true);
    if (got > 0) used_ += static_cast<size_t>(got);
  }
}

OpusPacketDecoder::Output OpusPacketDecoder::decode(std::span<const uint8_t> packet, int64_t start_48k) {
  Output out;
  used_ = 0;
  if (next_48k_) {
    const int64_t gap = start_48k - *next_48k_;
    if (gap < -kContiguitySamples) {
      out.packet_discarded = true;
      return out;
    }
    if (gap > kContiguitySamples && gap <= kMaxConcealSamples) {
      out.start_48k = *next_48k_;
      conceal(gap, packet);
      out.gap_concealed = used_ > 0;
      out.concealed_samples = static_cast<int64_t>(used_);
      out.packets_lost = std::max<int64_t>(1, (gap + last_packet_samples_ / 2) / last_packet_samples_);
    }
  }
  if (used_ == 0) out.start_48k = start_48k;
  int got = packet.empty() ? OPUS_INVALID_PACKET
                           : decode_into(packet.data(), static_cast<int>(packet.size()), kMaxPacketSamples, false);
  if (got < 0) {
    // Rejected or empty: conceal as long as the last good packet lasted.
    out.packet_corrupt = true;
    got = decode_into(nullptr, 0, last_packet_samples_, false);
    if (got > 0) out.concealed_samples += got;
  } else {
    last_packet_samples_ = got;
  }
  if (got > 0) used_ += static_cast<size_t>(got);
  out.samples = std::span<const float>(pcm_.data(), used_);
  next_48k_ = out.start_48k + static_cast<int64_t>(used_);
  return out;
}

}  // namespace callrec::mixer
