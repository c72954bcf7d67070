#include "callrec/ingest/rtp_stream_receiver.h"

#include <algorithm>
#include <cmath>

#include "callrec/core/media_time.h"
#include "callrec/ingest/h264_depacketizer.h"
#include "callrec/ingest/opus_depacketizer.h"
#include "callrec/ingest/rtcp_compound.h"
#include "callrec/ingest/vp8_depacketizer.h"

namespace callrec::ingest {
namespace {
constexpr size_t kMaxSources = 4;
constexpr size_t kMaxRtcpBytes = 256;

std::vector<std::vector<uint8_t>> h264_parameter_sets(const StreamDescription& d) {
  std::vector<std::vector<uint8_t>> sets;
  for (const auto& f : d.formats)
    if (f.codec == Codec::kH264) sets.insert(sets.end(), f.parameter_sets.begin(), f.parameter_sets.end());
  return sets;
}
}  // namespace

RtpStreamReceiver::RtpStreamReceiver(int index, StreamDescription description, const ReceiverConfig& config,
                                     uint32_t receiver_ssrc, ParticipantClock& clock, MediaSink& sink,
                                     RtcpSender& rtcp)
    : index_(index),
      description_(std::move(description)),
      config_(config),
      receiver_ssrc_(receiver_ssrc),
      clock_(clock),
      sink_(sink),
      rtcp_(rtcp),
      reorder_(config.reorder_capacity, config.reorder_wait_us),
      layer_filter_(config.vp8_min_frame_rate.value_or(0.0)) {
  for (const auto& f : description_.formats) {
    if (f.codec == Codec::kVp8 && !vp8_) vp8_ = std::make_unique<Vp8Depacketizer>();
    if (f.codec == Codec::kH264 && !h264_) h264_ = std::make_unique<H264Depacketizer>(h264_parameter_sets(description_));
  }
}

RtpStreamReceiver::~RtpStreamReceiver() = default;

int64_t RtpStreamReceiver::media_us(int64_t ext_ts, int clock_rate_hz) const {
  return MediaTime(ext_ts, Rational{1, clock_rate_hz}).us();
}

const SenderClock* RtpStreamReceiver::sender_clock() const {
  if (!ssrc_) return nullptr;
  for (const Source& s : sources_)
    if (s.ssrc == *ssrc_) return &s.clock;
  return nullptr;
}

RtpStreamReceiver::Source* RtpStreamReceiver::find_source(uint32_t ssrc) {
  for (Source& s : sources_)
    if (s.ssrc == ssrc) return &s;
  return nullptr;
}

RtpStreamReceiver::Source& RtpStreamReceiver::source(uint32_t ssrc, int64_t now_us) {
  if (Source* s = find_source(ssrc)) {
    s->last_used_us = now_us;
    return *s;
  }
  if (sources_.size() >= kMaxSources) {
    // Forget the least recently used one that is not current.
    auto victim = sources_.end();
    for (auto it = sources_.begin(); it != sources_.end(); ++it) {
      if (ssrc_ && it->ssrc == *ssrc_) continue;
      if (victim == sources_.end() || it->last_used_us < victim->last_used_us) victim = it;
    }
    sources_.erase(victim);
  }
  sources_.push_back(Source{});
  sources_.back().ssrc = ssrc;
  sources_.back().last_used_us = now_us;
  return sources_.back();
}

bool RtpStreamReceiver::accept_source(std::optional<SourceAddress>& latched, int64_t& last_us,
                                      const SourceAddress& from, int64_t arrival_us) {
  if (!latched || *latched == from) {
    latched = from;
    last_us = arrival_us;
    return true;
  }
  if (arrival_us - last_us >= config_.source_switch_silence_us) {
    latched = from;
    last_us = arrival_us;
    return true;
  }
  return false;
}

void RtpStreamReceiver::on_datagram(Channel channel, std::span<const uint8_t> data, const SourceAddress& from,
                                    int64_t arrival_us) {
  const bool rtcp = channel == Channel::kRtcp || (description_.rtcp_mux && RtpPacket::looks_like_rtcp(data));
  ++(rtcp ? stats_.rtcp_datagrams : stats_.rtp_datagrams);
  if (rtcp) {
    // With rtcp-mux, RTCP comes from the RTP source.
    auto& latched = channel == Channel::kRtp ? rtp_source_ : rtcp_source_;
    auto& last = channel == Channel::kRtp ? rtp_source_last_us_ : rtcp_source_last_us_;
    if (!accept_source(latched, last, from, arrival_us)) {
      ++stats_.dropped_unexpected_source;
      return;
    }
    handle_rtcp(data, arrival_us);
    return;
  }
  if (!accept_source(rtp_source_, rtp_source_last_us_, from, arrival_us)) {
    ++stats_.dropped_unexpected_source;
    return;
  }
  handle_rtp(data, arrival_us);
}

void RtpStreamReceiver::handle_rtp(std::span<const uint8_t> data, int64_t arrival_us) {
  const auto packet = RtpPacket::parse(data);
  if (!packet) {
    ++stats_.dropped_malformed;
    return;
  }
  if (!description_.format(packet->payload_type())) {
    ++stats_.dropped_unknown_payload_type;
    return;
  }
  if (ssrc_ && packet->ssrc() != *ssrc_) {
    const bool current_gone = ssrc_ended_ || arrival_us - last_packet_us_ >= config_.ssrc_switch_silence_us;
    if (!current_gone) {
      if (other_ssrc_ != packet->ssrc()) {
        stats_.dropped_unexpected_ssrc += static_cast<int64_t>(held_.size());
        held_.clear();
        other_ssrc_ = packet->ssrc();
      }
      if (held_.size() >= kMaxHeldOtherSsrc) {
        held_.pop_front();
        ++stats_.dropped_unexpected_ssrc;
      }
      held_.push_back(HeldPacket{std::vector<uint8_t>(data.begin(), data.end()), arrival_us});
      return;
    }
    switch_ssrc(packet->ssrc(), arrival_us);
  }
  if (!ssrc_) {
    ssrc_ = packet->ssrc();
    ++stats_.segments;
  }
  process_rtp(*packet, data, arrival_us);
}

void RtpStreamReceiver::switch_ssrc(uint32_t ssrc, int64_t now_us) {
  // What the old SSRC left in the reorder buffer goes out first.
  reorder_.flush([&](const ReleasedPacket& r) { deliver(r); });
  ssrc_ = ssrc;
  ssrc_ended_ = false;
  ++stats_.ssrc_changes;
  start_segment();
  source(ssrc, now_us);
  std::deque<HeldPacket> held;
  if (other_ssrc_ == ssrc) held.swap(held_);
  held_.clear();
  other_ssrc_.reset();
  for (const HeldPacket& h : held) {
    if (const auto p = RtpPacket::parse(h.bytes)) process_rtp(*p, h.bytes, h.arrival_us);
  }
}

void RtpStreamReceiver::start_segment() {
  ++stats_.segments;
  reorder_.reset();
  sequence_.reset();
  highest_sequence_.reset();
  probation_sequence_.reset();
  if (vp8_) vp8_->reset();
  if (h264_) h264_->reset();
  gate_.reset();
  keyframe_needed_ = false;
  layer_filter_ = Vp8LayerFilter(config_.vp8_min_frame_rate.value_or(0.0));
  segment_start_ = true;
  last_media_arrival_.reset();
  audio_end_ts_.reset();
  base_sequence_.reset();
  received_ = expected_prior_ = received_prior_ = 0;
  jitter_ = 0;
  last_transit_.reset();
  clock_.start_segment(index_);
}

void RtpStreamReceiver::process_rtp(const RtpPacket& packet, std::span<const uint8_t> data, int64_t arrival_us) {
  const uint16_t seq = packet.sequence_number();
  if (highest_sequence_) {
    const int64_t ext = sequence_.peek(seq);
    const int64_t ahead = ext - *highest_sequence_;
    if (ahead > kMaxDropout || ahead < -kMaxMisorder) {
      if (probation_sequence_ != seq) {
        probation_sequence_ = static_cast<uint16_t>(seq + 1);
        ++stats_.dropped_bad_sequence;
        return;
      }
      // Two packets in sequence after the jump: the sender restarted this SSRC.
      reorder_.flush([&](const ReleasedPacket& r) { deliver(r); });
      Source* s = find_source(packet.ssrc());
      if (s) *s = Source{packet.ssrc(), {}, {}, {}, 0, arrival_us};
      start_segment();
    }
  }
  probation_sequence_.reset();
  last_packet_us_ = arrival_us;
  const int64_t ext = sequence_.unwrap(seq);
  highest_sequence_ = highest_sequence_ ? std::max(*highest_sequence_, ext) : ext;
  if (!base_sequence_) base_sequence_ = ext;

  // Interarrival jitter (RFC 3550 A.8), in RTP units.
  const int rate = description_.format(packet.payload_type())->clock_rate_hz;
  const int64_t arrival_rtp = MediaTime::from_us(arrival_us).rescaled(Rational{1, rate}).ticks();
  const int64_t transit = arrival_rtp - static_cast<int64_t>(packet.timestamp());
  if (last_transit_) {
    const auto d = static_cast<double>(std::llabs(static_cast<int32_t>(transit - *last_transit_)));
    jitter_ += (d - jitter_) / 16.0;
  }
  last_transit_ = transit;

  const auto result = reorder_.insert(ext, data, arrival_us, [&](const ReleasedPacket& r) { deliver(r); });
  if (result == ReorderBuffer::Insert::kDuplicate) {
    ++stats_.packets_duplicate;
    return;
  }
  if (result == ReorderBuffer::Insert::kLate) {
    ++stats_.packets_late;
    return;
  }
  ++received_;
  ++stats_.packets_received;
  stats_.bytes_received += static_cast<int64_t>(data.size());
  if (!next_report_us_) next_report_us_ = arrival_us + config_.receiver_report_interval_us;
}

void RtpStreamReceiver::deliver(const ReleasedPacket& released) {
  stats_.packets_lost += released.lost_before;
  const auto packet = RtpPacket::parse(released.bytes);
  if (!packet) return;  // parsed once before it was stored
  const PayloadFormat& format = *description_.format(packet->payload_type());
  Source& src = source(packet->ssrc(), released.arrival_us);
  const int64_t ext_ts = src.timestamps.unwrap(packet->timestamp());
  const int64_t media = media_us(ext_ts, format.clock_rate_hz);
  if (last_media_arrival_) {
    const int64_t media_step = media - last_media_arrival_->first;
    const int64_t arrival_step = released.arrival_us - last_media_arrival_->second;
    if (std::llabs(media_step - arrival_step) > kResyncUs) {
      // The timestamps jumped and arrival did not: a new timeline for this stream.
      ++stats_.segments;
      src.clock = SenderClock{};
      src.last_sr_compact.reset();
      clock_.start_segment(index_);
      audio_end_ts_.reset();
      segment_start_ = true;
    }
  }
  last_media_arrival_ = {media, released.arrival_us};
  if (packet->payload().empty()) {
    ++stats_.dropped_padding_only;
    return;
  }
  if (description_.kind == MediaKind::kAudio)
    deliver_audio(*packet, format, ext_ts, released.lost_before, released.arrival_us);
  else
    deliver_video(*packet, format, ext_ts, released.lost_before, released.arrival_us);
}

void RtpStreamReceiver::deliver_audio(const RtpPacket& packet, const PayloadFormat& format, int64_t ext_ts,
                                      int64_t lost_before, int64_t arrival_us) {
  const auto duration = OpusDepacketizer::duration_48k(packet.payload());
  if (!duration) {
    ++stats_.dropped_invalid_payload;
    return;
  }
  AudioPacket out;
  out.stream = index_;
  out.payload = packet.payload();
  out.duration_48k = *duration;
  out.packets_lost_before = lost_before;
  if (audio_end_ts_ && lost_before == 0 && ext_ts > *audio_end_ts_) out.silence_before_48k = ext_ts - *audio_end_ts_;
  audio_end_ts_ = ext_ts + *duration;
  if (description_.audio_level_extension_id) {
    if (const auto level = packet.extension(*description_.audio_level_extension_id); level && !level->empty()) {
      out.audio_level_dbov = (*level)[0] & 0x7f;
      out.voice_activity = ((*level)[0] & 0x80) != 0;
    }
  }
  out.segment_start = segment_start_;
  segment_start_ = false;
  out.ssrc = packet.ssrc();
  out.rtp_timestamp = packet.timestamp();
  const SenderClock* sender = sender_clock();
  out.capture_time = MediaTime::from_us(
      clock_.place(index_, media_us(ext_ts, format.clock_rate_hz), arrival_us, sender));
  ++stats_.audio_packets;
  sink_.on_audio(out);
}

void RtpStreamReceiver::deliver_video(const RtpPacket& packet, const PayloadFormat& format, int64_t ext_ts,
                                      int64_t lost_before, int64_t arrival_us) {
  VideoDepacketizer* depacketizer = format.codec == Codec::kVp8 ? vp8_.get() : h264_.get();
  if (video_payload_type_ != packet.payload_type()) {
    // Another codec (or profile) on the same stream: its decoder starts from a key frame.
    if (video_payload_type_) {
      gate_.reset();
      if (vp8_) vp8_->reset();
      if (h264_) h264_->reset();
    }
    video_payload_type_ = packet.payload_type();
  }
  const DepacketizerStats before = depacketizer->stats();
  const AssembledFrame* frame = depacketizer->push(packet, arrival_us, lost_before);
  const DepacketizerStats& after = depacketizer->stats();
  stats_.frames_broken += after.frames_broken - before.frames_broken;
  stats_.dropped_invalid_payload += after.packets_malformed - before.packets_malformed;
  if (after.frames_broken > before.frames_broken && gate_.waiting_for_keyframe()) keyframe_needed_ = true;
  if (frame) {
    const bool admitted = gate_.admit(*frame);
    keyframe_needed_ = gate_.waiting_for_keyframe() && (keyframe_needed_ || !admitted);
    if (!admitted) {
      ++stats_.frames_waiting_for_keyframe;
    } else if (format.codec == Codec::kVp8 && config_.vp8_min_frame_rate &&
               !layer_filter_.keep(ext_ts, frame->vp8.temporal_layer, frame->vp8.layer_sync, frame->keyframe)) {
      ++stats_.frames_layer_dropped;
    } else {
      VideoFrame out;
      out.stream = index_;
      out.codec = format.codec;
      out.data = frame->data;
      out.keyframe = frame->keyframe;
      out.temporal_layer = frame->vp8.temporal_layer;
      out.width = frame->width;
      out.height = frame->height;
      out.segment_start = segment_start_;
      segment_start_ = false;
      out.ssrc = packet.ssrc();
      out.rtp_timestamp = frame->rtp_timestamp;
      out.capture_time = MediaTime::from_us(
          clock_.place(index_, media_us(ext_ts, format.clock_rate_hz), frame->arrival_us, sender_clock()));
      ++stats_.video_frames;
      if (frame->keyframe) ++stats_.keyframes;
      sink_.on_video(out);
    }
  }
  maybe_send_pli(arrival_us);
}

void RtpStreamReceiver::handle_rtcp(std::span<const uint8_t> data, int64_t arrival_us) {
  const auto compound = RtcpCompound::parse(data);
  if (!compound) {
    ++stats_.rtcp_malformed;
    return;
  }
  ++stats_.rtcp_received;
  for (const SenderReport& sr : compound->sender_reports) {
    if (sr.ntp.value == 0) continue;
    const PayloadFormat& format = description_.formats.front();
    Source& src = source(sr.ssrc, arrival_us);
    // Before the first RTP packet, the report's timestamp is the reference the
    // packets' timestamps are unwrapped against.
    const int64_t ext_ts = src.timestamps.last() ? src.timestamps.peek(sr.rtp_timestamp)
                                                 : src.timestamps.unwrap(sr.rtp_timestamp);
    src.clock.on_sender_report(sr.ntp.us(), media_us(ext_ts, format.clock_rate_hz));
    src.last_sr_compact = sr.ntp.compact();
    src.last_sr_arrival_us = arrival_us;
    ++stats_.sender_reports;
  }
  for (const Bye& bye : compound->byes)
    for (const uint32_t ssrc : bye.ssrcs)
      if (ssrc_ == ssrc) ssrc_ended_ = true;
}

std::optional<SourceAddress> RtpStreamReceiver::rtcp_destination() const {
  if (description_.rtcp_mux) return rtp_source_;
  if (rtcp_source_) return rtcp_source_;
  if (rtp_source_ && rtp_source_->port < 65535) return rtp_source_->with_port(static_cast<uint16_t>(rtp_source_->port + 1));
  return std::nullopt;
}

void RtpStreamReceiver::send_reports(int64_t now_us, bool with_pli) {
  const auto to = rtcp_destination();
  if (!to) return;
  uint8_t buffer[kMaxRtcpBytes];
  size_t size = 0;
  ReceiverReport rr;
  rr.ssrc = receiver_ssrc_;
  if (ssrc_ && base_sequence_ && highest_sequence_) {
    ReportBlock b;
    b.ssrc = *ssrc_;
    const int64_t expected = *highest_sequence_ - *base_sequence_ + 1;
    const int64_t lost = expected - received_;
    const int64_t expected_interval = expected - expected_prior_;
    const int64_t received_interval = received_ - received_prior_;
    const int64_t lost_interval = expected_interval - received_interval;
    expected_prior_ = expected;
    received_prior_ = received_;
    b.fraction_lost =
        expected_interval <= 0 || lost_interval <= 0 ? 0 : static_cast<uint8_t>(std::min<int64_t>(255, (lost_interval << 8) / expected_interval));
    b.cumulative_lost = static_cast<int32_t>(std::clamp<int64_t>(lost, -0x800000, 0x7fffff));
    b.extended_highest_sequence = static_cast<uint32_t>(*highest_sequence_);
    b.jitter = static_cast<uint32_t>(jitter_);
    if (const Source* s = find_source(*ssrc_); s && s->last_sr_compact) {
      b.last_sr = *s->last_sr_compact;
      b.delay_since_last_sr = static_cast<uint32_t>(std::max<int64_t>(0, now_us - s->last_sr_arrival_us) * 65536 / 1'000'000);
    }
    rr.blocks.push_back(b);
  }
  size += rr.serialize(std::span<uint8_t>(buffer + size, sizeof buffer - size));
  size += serialize_sdes_cname(receiver_ssrc_, config_.cname, std::span<uint8_t>(buffer + size, sizeof buffer - size));
  if (with_pli && ssrc_) {
    size += FeedbackPli{receiver_ssrc_, *ssrc_}.serialize(std::span<uint8_t>(buffer + size, sizeof buffer - size));
    ++stats_.plis_sent;
    last_pli_us_ = now_us;
  }
  ++stats_.receiver_reports_sent;
  rtcp_.send_rtcp(index_, std::span<const uint8_t>(buffer, size), *to);
}

void RtpStreamReceiver::maybe_send_pli(int64_t now_us) {
  if (description_.kind != MediaKind::kVideo || !ssrc_) return;
  if (!gate_.waiting_for_keyframe()) keyframe_needed_ = false;
  if (!keyframe_needed_) return;
  if (last_pli_us_ && now_us - *last_pli_us_ < config_.pli_interval_us) return;
  send_reports(now_us, true);
}

void RtpStreamReceiver::request_keyframe(int64_t now_us) {
  gate_.request_keyframe();
  keyframe_needed_ = true;
  maybe_send_pli(now_us);
}

void RtpStreamReceiver::on_timer(int64_t now_us) {
  reorder_.poll(now_us, [&](const ReleasedPacket& r) { deliver(r); });
  if (other_ssrc_ && !held_.empty() && (ssrc_ended_ || now_us - last_packet_us_ >= config_.ssrc_switch_silence_us))
    switch_ssrc(*other_ssrc_, now_us);
  if (next_report_us_ && now_us >= *next_report_us_) {
    send_reports(now_us, false);
    next_report_us_ = now_us + config_.receiver_report_interval_us;
  }
  // Only once frames flow: a gate waiting on a silent stream asks nothing.
  if (stats_.packets_received > 0 && now_us - last_packet_us_ < config_.pli_interval_us * 4) maybe_send_pli(now_us);
}

std::optional<int64_t> RtpStreamReceiver::next_deadline_us() const {
  std::optional<int64_t> next = reorder_.next_deadline_us();
  auto consider = [&](std::optional<int64_t> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  consider(next_report_us_);
  if (other_ssrc_ && !held_.empty()) consider(last_packet_us_ + config_.ssrc_switch_silence_us);
  if (keyframe_needed_ && last_pli_us_)
    consider(*last_pli_us_ + config_.pli_interval_us);
  return next;
}

}  // namespace callrec::ingest
