// H264Depacketizer: RFC 6184 payloads (packetization modes 0 and 1: single NAL unit,
// STAP-A, FU-A) into whole access units in Annex B.
//
// An access unit is the run of packets with one RTP timestamp, ended by the marker bit.
// It must start cleanly: with a parameter set, AUD or SEI, or with the first slice of a
// picture (first_mb_in_slice 0); otherwise its start was lost and it is discarded.
// SPS and PPS seen in band, or given from the SDP's sprop-parameter-sets, are kept and
// put in front of an IDR access unit that lacks them, so every key frame handed on can
// be decoded alone. An IDR without any known SPS/PPS is handed on as not a key frame.
// STAP-B, MTAP and FU-B (interleaved mode) are malformed here.
#pragma once

#include <vector>

#include "callrec/ingest/video_depacketizer.h"

namespace callrec::ingest {

class H264Depacketizer final : public VideoDepacketizer {
 public:
  // `parameter_sets`: NAL units (without start codes) from sprop-parameter-sets.
  explicit H264Depacketizer(const std::vector<std::vector<uint8_t>>& parameter_sets = {});
  const AssembledFrame* push(const RtpPacket& packet, int64_t arrival_us, int64_t lost_before) override;
  void reset() override;

  int64_t idr_without_parameter_sets() const { return idr_without_parameter_sets_; }

 private:
  // Appends one NAL unit (start code first); false when the frame grew too large.
  bool append_nal(std::span<const uint8_t> nal);
  void note_nal(uint8_t type, std::span<const uint8_t> nal);
  bool clean_start(std::span<const uint8_t> payload) const;
  void discard_frame();
  const AssembledFrame* finish(int64_t arrival_us);

  bool assembling_ = false;
  bool broken_ = false;
  bool loss_pending_ = false;
  uint32_t timestamp_ = 0;
  std::optional<uint32_t> skipping_timestamp_;
  bool fu_active_ = false;
  size_t fu_start_ = 0;  // offset of the fragmented NAL's header in buffer_
  bool has_sps_ = false, has_pps_ = false, has_idr_ = false;
  std::vector<uint8_t> sps_, pps_;  // last seen, without start code
  std::vector<uint8_t> buffer_;
  std::vector<uint8_t> output_;
  AssembledFrame frame_;
  int64_t idr_without_parameter_sets_ = 0;
};

}  // namespace callrec::ingest
