// Shared by the VP8 and H.264 depacketizer harnesses: payloads with fuzzed marker bits,
// timestamps and losses go through RTP packets into a depacketizer and the key frame
// gate; every frame that comes out lies within the depacketizer's bounds.
//
// Input: records of [flags u8][length u16 BE][length bytes of payload].
// flags bit 0: marker; bit 1: next timestamp; bits 2-3: sequence numbers lost before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "callrec/ingest/keyframe_gate.h"
#include "callrec/ingest/rtp_packet.h"
#include "callrec/ingest/video_depacketizer.h"

inline void run_depacketizer(callrec::ingest::VideoDepacketizer& depacketizer, const uint8_t* data, size_t size) {
  using namespace callrec::ingest;
  KeyframeGate gate;
  std::vector<uint8_t> packet(12 + 65536);
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  size_t at = 0;
  while (at + 3 <= size) {
    const uint8_t flags = data[at];
    size_t length = static_cast<size_t>((data[at + 1] << 8) | data[at + 2]);
    at += 3;
    length = std::min(length, size - at);
    const int lost = (flags >> 2) & 3;
    sequence = static_cast<uint16_t>(sequence + 1 + lost);
    if (flags & 2) timestamp += 3000;
    size_t written = 0;
    write_rtp_packet({.payload_type = 96, .marker = (flags & 1) != 0, .sequence_number = sequence,
                      .timestamp = timestamp, .ssrc = 1},
                     std::span<const uint8_t>(data + at, length), packet, written);
    at += length;
    const auto rtp = RtpPacket::parse(std::span<const uint8_t>(packet.data(), written));
    if (!rtp) __builtin_trap();
    if (const AssembledFrame* frame = depacketizer.push(*rtp, 0, lost)) {
      if (frame->data.empty() || frame->data.size() > VideoDepacketizer::kMaxFrameBytes + 1024) __builtin_trap();
      volatile uint8_t sum = 0;
      for (const uint8_t b : frame->data) sum = static_cast<uint8_t>(sum + b);  // every byte readable
      (void)gate.admit(*frame);
    }
  }
}
