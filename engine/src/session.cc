// callrec::Session: the public embedding API (include/callrec/session.h), forwarded to
// the live driver. Where things are:
//   live_session.{h,cc}       the control side: checks, participants, pushes, scheduling
//   control_state.{h,cc}      the control state machine (one transition table)
//   participant_queue.{h,cc}  a participant's bounded queue, with its RTP clocks
//   rtp_clock.{h,cc}          RTP timestamps onto call time (wrap-around, jumps, resets)
//   output_driver.{h,cc}      the output side: commands, media release, periods, failure
//   video_packet_decoder.{h,cc}, decoding_loop.h   encoded video, keyframe requests
//   media_problems.{h,cc}     what was dropped and when, for the chunk metadata
//   session_core.{h,cc}       mixer + compositor + writer, shared with the offline driver
#include "callrec/session.h"

#include "live_session.h"

namespace callrec {

const char* to_string(SessionErrc code) {
  switch (code) {
    case SessionErrc::kOk: return "ok";
    case SessionErrc::kNotStarted: return "not_started";
    case SessionErrc::kAlreadyStarted: return "already_started";
    case SessionErrc::kAlreadyPaused: return "already_paused";
    case SessionErrc::kNotPaused: return "not_paused";
    case SessionErrc::kStopped: return "stopped";
    case SessionErrc::kUnknownParticipant: return "unknown_participant";
    case SessionErrc::kParticipantPresent: return "participant_present";
    case SessionErrc::kInvalidArgument: return "invalid_argument";
    case SessionErrc::kQueueFull: return "queue_full";
    case SessionErrc::kOutputFailed: return "output_failed";
    case SessionErrc::kDroppedTimestamp: return "dropped_timestamp";
  }
  return "unknown";
}

struct Session::Impl {
  explicit Impl(SessionConfig config) : live(std::move(config)) {}
  engine::LiveSession live;
};

Session::Session(SessionConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Session::~Session() = default;

Session::Started Session::start(std::string_view operation_context) { return impl_->live.start(operation_context); }
Status Session::pause(std::string_view operation_context) { return impl_->live.pause(operation_context); }
Status Session::resume(std::string_view operation_context) { return impl_->live.resume(operation_context); }
Status Session::stop(std::string_view operation_context) { return impl_->live.stop(operation_context); }
RecordingState Session::state() const { return impl_->live.state(); }
Status Session::wait() { return impl_->live.wait(); }
MediaTime Session::now() const { return impl_->live.now(); }

Status Session::join(std::string_view participant_id, std::string_view display_name) {
  return impl_->live.join(participant_id, display_name);
}
Status Session::leave(std::string_view participant_id) { return impl_->live.leave(participant_id); }
Status Session::set_screen_share(std::string_view participant_id, bool on) {
  return impl_->live.set_screen_share(participant_id, on);
}

Status Session::push_opus(std::string_view participant_id, std::span<const uint8_t> packet, uint32_t rtp_timestamp,
                          std::optional<int> audio_level_dbov) {
  return impl_->live.push_opus(participant_id, packet, rtp_timestamp, std::nullopt, audio_level_dbov);
}
Status Session::push_opus(std::string_view participant_id, std::span<const uint8_t> packet, MediaTime timestamp,
                          std::optional<int> audio_level_dbov) {
  return impl_->live.push_opus(participant_id, packet, std::nullopt, timestamp, audio_level_dbov);
}
Status Session::push_pcm(std::string_view participant_id, std::span<const int16_t> interleaved, int sample_rate_hz,
                         int channels, MediaTime timestamp) {
  return impl_->live.push_pcm(participant_id, interleaved, sample_rate_hz, channels, timestamp);
}
Status Session::push_audio_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp) {
  return impl_->live.push_audio_frame(participant_id, frame, timestamp);
}
Status Session::push_video_frame(std::string_view participant_id, const AVFrame& frame, MediaTime timestamp,
                                 VideoTrack track) {
  return impl_->live.push_video_frame(participant_id, frame, timestamp, track);
}
Status Session::push_video_packet(std::string_view participant_id, VideoCodec codec, std::span<const uint8_t> data,
                                  uint32_t rtp_timestamp, VideoTrack track) {
  return impl_->live.push_video_packet(participant_id, codec, data, rtp_timestamp, std::nullopt, track);
}
Status Session::push_video_packet(std::string_view participant_id, VideoCodec codec, std::span<const uint8_t> data,
                                  MediaTime timestamp, VideoTrack track) {
  return impl_->live.push_video_packet(participant_id, codec, data, std::nullopt, timestamp, track);
}

SessionStats Session::stats() const { return impl_->live.stats(); }

}  // namespace callrec
