#include "callrec/service/rtp_media.h"

#include <mutex>
#include <optional>

#include "callrec/core/error.h"
#include "callrec/ingest/clock.h"
#include "callrec/ingest/sdp_answer.h"
#include "callrec/ingest/sdp_description.h"
#include "callrec/ingest/udp_ingest.h"
#include "callrec/service/api_error.h"
#include "callrec/service/recording_session.h"

namespace callrec::service {

namespace in = callrec::ingest;

struct RtpMedia::Impl {
  in::SteadyClock clock;
  in::UdpIngest udp{clock};
};

namespace {

[[noreturn]] void bad_offer(const std::string& why) {
  throw ApiError(400, "InvalidSdp", "the SDP offer cannot be used: " + why, "sdp");
}

// One participant's ports and the sink of their units. The sink runs on the ingest's
// network thread and pushes under mu_, which attach()/detach() take: after detach()
// returns, nothing more reaches the session.
class RtpLink final : public MediaLink, public in::MediaSink {
 public:
  RtpLink(std::shared_ptr<RtpMedia::Impl> media, std::string participant_id, in::ParticipantMedia description)
      : media_(std::move(media)), id_(std::move(participant_id)), description_(std::move(description)) {}

  // Binds the ports; throws ApiError when one cannot be bound.
  void open() {
    try {
      ingest_id_ = media_->udp.add(description_, *this);
    } catch (const Error& e) {
      bad_offer(e.what());
    }
    answer_ = in::answer_sdp(description_, media_->udp.ports(*ingest_id_));
  }

  ~RtpLink() override {
    if (ingest_id_) media_->udp.remove(*ingest_id_);  // the sink is not called after this
  }

  const std::string& answer_sdp() const override { return answer_; }

  void attach(RecordingSession& recording) override {
    Session* session = recording.engine_session();
    if (!session) return;
    // Both clocks are steady_clock: ingest time minus this is the session's call time.
    const MediaTime offset = media_->clock.now() - session->now();
    {
      const std::lock_guard lock(mu_);
      session_ = session;
      offset_ = offset;
      screen_on_ = false;
    }
    keyframe_wanted(VideoTrack::kCamera);
    keyframe_wanted(VideoTrack::kScreen);
  }

  void detach() override {
    const std::lock_guard lock(mu_);
    session_ = nullptr;
  }

  void keyframe_wanted(VideoTrack track) override {
    if (!ingest_id_) return;
    for (size_t i = 0; i < description_.streams.size(); ++i) {
      const in::StreamDescription& s = description_.streams[i];
      if (s.kind == in::MediaKind::kVideo && s.screen_share == (track == VideoTrack::kScreen))
        media_->udp.request_keyframe(*ingest_id_, static_cast<int>(i));  // posts; never blocks
    }
  }

  void on_audio(const in::AudioPacket& p) override {
    const std::lock_guard lock(mu_);
    if (!session_) return;
    // Loss and DTX need nothing here: the mixer conceals timestamp gaps.
    (void)session_->push_opus(id_, p.payload, p.capture_time - offset_, p.audio_level_dbov);
  }

  void on_video(const in::VideoFrame& f) override {
    const std::lock_guard lock(mu_);
    if (!session_) return;
    const bool screen = description_.streams[static_cast<size_t>(f.stream)].screen_share;
    if (screen && !screen_on_) screen_on_ = session_->set_screen_share(id_, true).ok();
    (void)session_->push_video_packet(id_, f.codec == in::Codec::kH264 ? VideoCodec::kH264 : VideoCodec::kVp8,
                                      f.data, f.capture_time - offset_,
                                      screen ? VideoTrack::kScreen : VideoTrack::kCamera);
  }

 private:
  const std::shared_ptr<RtpMedia::Impl> media_;
  const std::string id_;
  const in::ParticipantMedia description_;
  std::optional<in::UdpIngest::ParticipantId> ingest_id_;
  std::string answer_;

  std::mutex mu_;
  Session* session_ = nullptr;           // guarded by mu_
  MediaTime offset_ = MediaTime::from_us(0);  // guarded by mu_
  bool screen_on_ = false;               // guarded by mu_
};

}  // namespace

RtpMedia::RtpMedia() : impl_(std::make_shared<Impl>()) {}
RtpMedia::~RtpMedia() = default;

std::unique_ptr<MediaLink> RtpMedia::accept(std::string_view, std::string_view participant_id,
                                            std::string_view sdp_offer) {
  in::ParticipantMedia description;
  try {
    description = in::SdpDescription::parse(sdp_offer);
    in::check_one_stream_per_track(description);
  } catch (const Error& e) {
    bad_offer(e.what());
  }
  auto link = std::make_unique<RtpLink>(impl_, std::string(participant_id), std::move(description));
  link->open();
  return link;
}

}  // namespace callrec::service
