// LiveIngest: the ingest's UdpIngest feeding a Session. The one place that knows both:
// the engine stays off the network and the ingest knows nothing of sessions.
#include "callrec/live_ingest.h"

#include <atomic>
#include <map>
#include <mutex>
#include <utility>

#include "callrec/core/error.h"
#include "callrec/ingest/sdp_answer.h"
#include "callrec/ingest/sdp_description.h"
#include "callrec/ingest/udp_ingest.h"

namespace callrec {
namespace {

namespace in = callrec::ingest;

// The ingest's timeline is the session's call time: capture times come out as call times.
class SessionTimeClock final : public in::Clock {
 public:
  explicit SessionTimeClock(const Session& session) : session_(session) {}
  MediaTime now() const override { return session_.now(); }

 private:
  const Session& session_;
};

in::ParticipantMedia to_description(const RtpParticipantMedia& media) {
  in::ParticipantMedia out;
  for (const RtpStreamConfig& s : media.streams) {
    in::StreamDescription d;
    d.kind = s.codec == RtpCodec::kOpus ? in::MediaKind::kAudio : in::MediaKind::kVideo;
    d.address = s.address;
    d.rtp_port = s.rtp_port;
    d.rtcp_port = s.rtcp_port;
    d.rtcp_mux = s.rtcp_mux;
    d.audio_level_extension_id = s.audio_level_extension_id;
    d.screen_share = s.screen_share;
    in::PayloadFormat f;
    f.payload_type = s.payload_type;
    switch (s.codec) {
      case RtpCodec::kOpus:
        f.codec = in::Codec::kOpus;
        f.clock_rate_hz = 48000;
        f.channels = 2;
        break;
      case RtpCodec::kVp8:
        f.codec = in::Codec::kVp8;
        f.clock_rate_hz = 90000;
        break;
      case RtpCodec::kH264:
        f.codec = in::Codec::kH264;
        f.clock_rate_hz = 90000;
        f.packetization_mode = 1;
        f.parameter_sets = s.h264_parameter_sets;
        break;
    }
    if (s.codec != RtpCodec::kOpus && s.audio_level_extension_id)
      throw Error("a video stream has no audio level extension");
    if (s.codec == RtpCodec::kOpus && s.screen_share) throw Error("an Opus stream cannot be a screen share");
    d.formats.push_back(std::move(f));
    out.streams.push_back(std::move(d));
  }
  return out;
}

// One participant's units into the session, with their capture times as call times.
class SessionSink final : public in::MediaSink {
 public:
  SessionSink(Session& session, std::string participant_id, const in::ParticipantMedia& media)
      : session_(session), id_(std::move(participant_id)), counters_(media.streams.size()) {
    for (const auto& s : media.streams) screen_.push_back(s.screen_share);
  }

  void on_audio(const in::AudioPacket& p) override {
    Counters& c = counters_[static_cast<size_t>(p.stream)];
    c.units.fetch_add(1, std::memory_order_relaxed);
    // Loss and DTX need nothing here: the mixer conceals timestamp gaps (PLC, FEC) and
    // a DTX pause is a gap on the call timeline. A new segment's first packet is placed
    // where the last segment ended (the ingest's placement), so it continues the voice.
    if (!session_.push_opus(id_, p.payload, p.capture_time, p.audio_level_dbov))
      c.refused.fetch_add(1, std::memory_order_relaxed);
  }

  void on_video(const in::VideoFrame& f) override {
    const auto stream = static_cast<size_t>(f.stream);
    Counters& c = counters_[stream];
    c.units.fetch_add(1, std::memory_order_relaxed);
    const VideoTrack track = screen_[stream] ? VideoTrack::kScreen : VideoTrack::kCamera;
    if (track == VideoTrack::kScreen && !screen_on_) {
      screen_on_ = session_.set_screen_share(id_, true).ok();
    }
    const VideoCodec codec = f.codec == in::Codec::kH264 ? VideoCodec::kH264 : VideoCodec::kVp8;
    if (!session_.push_video_packet(id_, codec, f.data, f.capture_time, track))
      c.refused.fetch_add(1, std::memory_order_relaxed);
  }

  int64_t units(size_t stream) const { return counters_[stream].units.load(std::memory_order_relaxed); }
  int64_t refused(size_t stream) const { return counters_[stream].refused.load(std::memory_order_relaxed); }

 private:
  struct Counters {
    std::atomic<int64_t> units{0};
    std::atomic<int64_t> refused{0};
  };
  Session& session_;
  const std::string id_;
  std::vector<Counters> counters_;
  std::vector<bool> screen_;
  bool screen_on_ = false;  // network thread only
};

}  // namespace

struct LiveIngest::Impl {
  Impl(Session& s, LiveIngestConfig c) : session(s), config(std::move(c)), clock(s), udp(clock) {}

  struct Participant {
    in::UdpIngest::ParticipantId ingest_id = 0;
    in::ParticipantMedia media;
    std::unique_ptr<SessionSink> sink;
  };

  Added add(std::string_view participant_id, in::ParticipantMedia media, std::string_view display_name) {
    Added out;
    try {
      in::check_one_stream_per_track(media);
    } catch (const Error& e) {
      out.status = Status(SessionErrc::kInvalidArgument, e.what());
      return out;
    }
    const std::lock_guard lock(mu);
    if (participants.contains(participant_id)) {
      out.status = Status(SessionErrc::kParticipantPresent,
                          "participant \"" + std::string(participant_id) + "\" already has RTP streams");
      return out;
    }
    if (Status s = session.join(participant_id, display_name); !s) {
      out.status = std::move(s);
      return out;
    }
    auto p = std::make_unique<Participant>();
    p->media = media;
    p->sink = std::make_unique<SessionSink>(session, std::string(participant_id), media);
    in::ReceiverConfig rc;
    rc.reorder_wait_us = config.reorder_wait.count() * 1000;
    rc.vp8_min_frame_rate = config.vp8_min_frame_rate;
    rc.cname = config.cname;
    try {
      p->ingest_id = udp.add(std::move(media), *p->sink, rc);
    } catch (const Error& e) {
      (void)session.leave(participant_id);
      out.status = Status(SessionErrc::kInvalidArgument, e.what());
      return out;
    }
    const auto ports = udp.ports(p->ingest_id);
    for (size_t i = 0; i < ports.size(); ++i) {
      const in::StreamDescription& d = p->media.streams[i];
      out.streams.push_back(StreamAnswer{.audio = d.kind == in::MediaKind::kAudio,
                                         .screen_share = d.screen_share,
                                         .address = d.address,
                                         .rtp_port = ports[i].rtp,
                                         .rtcp_port = ports[i].rtcp,
                                         .rtcp_mux = d.rtcp_mux});
    }
    out.answer_sdp = in::answer_sdp(p->media, ports);
    participants.emplace(std::string(participant_id), std::move(p));
    return out;
  }

  Session& session;
  const LiveIngestConfig config;
  SessionTimeClock clock;
  mutable std::mutex mu;
  std::map<std::string, std::unique_ptr<Participant>, std::less<>> participants;
  in::UdpIngest udp;  // last: destroyed first, so no datagram reaches a destroyed sink
};

LiveIngest::LiveIngest(Session& session, LiveIngestConfig config)
    : impl_(std::make_unique<Impl>(session, std::move(config))) {}

LiveIngest::~LiveIngest() {
  const std::lock_guard lock(impl_->mu);
  for (const auto& [id, p] : impl_->participants) impl_->udp.remove(p->ingest_id);
}

LiveIngest::Added LiveIngest::add_participant(std::string_view participant_id, std::string_view sdp,
                                              std::string_view display_name) {
  in::ParticipantMedia media;
  try {
    media = in::SdpDescription::parse(sdp);
  } catch (const Error& e) {
    return Added{.status = Status(SessionErrc::kInvalidArgument, e.what())};
  }
  return impl_->add(participant_id, std::move(media), display_name);
}

LiveIngest::Added LiveIngest::add_participant(std::string_view participant_id, const RtpParticipantMedia& media,
                                              std::string_view display_name) {
  in::ParticipantMedia description;
  try {
    description = to_description(media);
    in::validate(description, /*allow_any_port=*/true);
  } catch (const Error& e) {
    return Added{.status = Status(SessionErrc::kInvalidArgument, e.what())};
  }
  return impl_->add(participant_id, std::move(description), display_name);
}

Status LiveIngest::remove_participant(std::string_view participant_id) {
  std::unique_ptr<Impl::Participant> p;
  {
    const std::lock_guard lock(impl_->mu);
    const auto it = impl_->participants.find(participant_id);
    if (it == impl_->participants.end()) {
      return Status(SessionErrc::kUnknownParticipant,
                    "participant \"" + std::string(participant_id) + "\" has no RTP streams");
    }
    impl_->udp.remove(it->second->ingest_id);  // the sink is not called after this
    p = std::move(it->second);
    impl_->participants.erase(it);
  }
  return impl_->session.leave(participant_id);
}

void LiveIngest::on_session_event(const SessionEvent& event) {
  if (event.kind != SessionEventKind::kKeyframeWanted) return;
  const std::lock_guard lock(impl_->mu);
  const auto it = impl_->participants.find(event.participant_id);
  if (it == impl_->participants.end()) return;
  const auto& streams = it->second->media.streams;
  for (size_t i = 0; i < streams.size(); ++i) {
    if (streams[i].kind == ingest::MediaKind::kVideo &&
        streams[i].screen_share == (event.track == VideoTrack::kScreen))
      impl_->udp.request_keyframe(it->second->ingest_id, static_cast<int>(i));  // posts; never blocks
  }
}

std::vector<LiveIngest::StreamStats> LiveIngest::stats(std::string_view participant_id) const {
  const std::lock_guard lock(impl_->mu);
  std::vector<StreamStats> out;
  const auto it = impl_->participants.find(participant_id);
  if (it == impl_->participants.end()) return out;
  const auto in_stats = impl_->udp.stats(it->second->ingest_id);
  for (size_t i = 0; i < in_stats.size(); ++i) {
    const ingest::StreamStats& s = in_stats[i];
    out.push_back(StreamStats{
        .datagrams = s.rtp_datagrams,
        .packets_received = s.packets_received,
        .packets_lost = s.packets_lost,
        .packets_dropped = s.dropped_malformed + s.dropped_unexpected_source + s.dropped_unexpected_ssrc +
                           s.dropped_unknown_payload_type + s.dropped_padding_only + s.dropped_bad_sequence +
                           s.dropped_invalid_payload,
        .sender_reports = s.sender_reports,
        .units = it->second->sink->units(i),
        .keyframes = s.keyframes,
        .frames_held_for_keyframe = s.frames_waiting_for_keyframe,
        .plis_sent = s.plis_sent,
        .segments = s.segments,
        .pushes_refused = it->second->sink->refused(i),
    });
  }
  return out;
}

}  // namespace callrec
