// SessionCore: the one recording core behind both drivers.
//
// It owns the mixer, the compositor and the RecordingWriter, the record timeline (pause
// removal), who is present when, and the chunk annotations. Media arrives as *inputs*: a
// stretch of one participant's camera/microphone or screen share on the call timeline
// (a manifest media entry offline; a join..leave or share on..off live). Output is made
// one 1/8 s period at a time by step():
//
//  - offline clock (the file driver): step(kNoClockLimit, /*wait_for_inputs=*/true)
//    advances output only as far as every active input has been pushed (a watermark);
//    when an input is behind, it returns kNeedInput naming it and the driver pushes more
//    of that input. Output runs as fast as the CPU allows.
//  - live clock (Session): step(now - jitter window, false) advances output as far as
//    the wall clock allows; inputs that sent nothing contribute silence/placeholders and
//    never hold up the others.
//
// Threading: owned and used by one thread (the offline driver's, or the live session's
// output thread). Not internally synchronised. Callbacks run on that thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callrec/compositor/video_compositor.h"
#include "callrec/core/av.h"
#include "callrec/core/stage_clock.h"
#include "callrec/engine/record_timeline.h"
#include "callrec/mixer/audio_mixer.h"
#include "callrec/muxer/recording_writer.h"
#include "participant_activity.h"

namespace callrec::engine {

inline constexpr int64_t kNoClockLimit = std::numeric_limits<int64_t>::max();

// Where the core's output periods go: a muxer::RecordingWriter unless the driver gives
// something else (tests: a writer that fails on cue; fuzzers: one that only checks).
// Same contract as RecordingWriter's methods of the same names.
class PeriodWriter {
 public:
  virtual ~PeriodWriter() = default;
  virtual void write_period(const AVFrame& video, std::span<const float> audio) = 0;
  virtual nlohmann::json finish(const std::string& session_end_reason) = 0;
};
using PeriodWriterFactory =
    std::function<std::unique_ptr<PeriodWriter>(const muxer::RecordingConfig&, muxer::ChunkAnnotator&)>;

struct SessionCoreConfig {
  muxer::RecordingConfig recording;  // recording_start_time: see call_epoch
  WallClock call_epoch;              // wall-clock time of call time 0
  mixer::MixerConfig mixer;
  compositor::CompositorConfig compositor;
  // Live: pictures older than the last composed time, or out of order, are dropped and
  // counted. Offline files are taken as they are.
  bool drop_late_video = false;
  // Live: pause/resume are applied to the timeline while recording (at or after what
  // was mixed), so the next composed instant is not final until its audio is mixed.
  bool timeline_may_change = false;
  // Called after each chunk's .mp4 and .json are in place, with the metadata written.
  std::function<void(const nlohmann::json&)> on_chunk_written;
  // Media problems survived so far, one line each (added to every chunk's metadata).
  std::function<std::vector<std::string>()> problems;
  // Extra per-participant counters the driver keeps (e.g. live queue drops), merged into
  // that participant's entry of "participantMediaStats".
  std::function<nlohmann::json(const std::string& participant_id)> participant_extra_stats;
  // When set, CPU time is charged to the stage doing the work (render --stats).
  StageClock* stage_clock = nullptr;
  // Makes the writer; empty: a muxer::RecordingWriter writing `recording`.
  PeriodWriterFactory make_writer;
};

class SessionCore final : public muxer::ChunkAnnotator {
 public:
  using InputId = size_t;
  using ParticipantIndex = size_t;

  enum class StepResult {
    kWrotePeriod,  // one output period was written
    kNeedInput,    // offline watermark: *lagging must be pushed further first
    kWaitClock,    // live: the next period's media is not final yet
    kFinished,     // the recording has ended (call finish())
  };

  // `timeline` is the record timeline; live sessions apply pause/resume/stop to it later
  // through timeline(). Throws callrec::Error when the output cannot be created.
  SessionCore(SessionCoreConfig config, RecordTimeline timeline);
  ~SessionCore() override;

  ParticipantIndex add_participant(std::string participant_id, std::string display_name);
  // A stretch of media of one participant starting at call time `start`. With
  // has_audio/has_video false, audio/video are created on first push (live); offline,
  // the flags say which streams the watermark waits for.
  InputId add_input(ParticipantIndex participant, bool screen_share, MediaTime start, bool has_audio,
                    bool has_video);

  // Decoded audio / an Opus packet whose first sample is at call time `start`.
  // Media the stages cannot take (audio the mixer cannot convert) is refused with a
  // callrec::Error before anything of it is kept: the input goes on as before, so a
  // driver may drop it and carry on.
  void push_audio(InputId input, const AVFrame& frame, MediaTime start);
  void push_opus(InputId input, std::span<const uint8_t> packet, MediaTime start, bool voice_active);
  // A decoded picture shown at call time `pts` (referenced; the caller may reuse it).
  // Returns false when it came too late to be shown (counted). A picture the
  // compositor cannot show (VideoCompositor::picture_problem) is refused with a
  // callrec::Error, here rather than when composing.
  bool push_video(InputId input, const AVFrame& frame, MediaTime pts);
  // Whether a picture at call time `pts_us`, between neighbours at `before_us` and
  // `after_us`, may still be shown at a composed instant: false only when no instant
  // to come is nearer to it than to a neighbour (drop_unseen_pictures()'s rule). A
  // driver may then leave it undecoded, and tells skip_video() instead of push_video().
  bool picture_may_show(int64_t before_us, int64_t pts_us, int64_t after_us) const;
  // A picture at call time `pts` left undecoded: it counts for the input's timing (how
  // long its last picture lasts, whether its video lags) but is never shown.
  void skip_video(InputId input, MediaTime pts);
  // The input's audio has ended (the watermark stops waiting for it; end_input() places
  // the resampler's tail).
  void end_audio(InputId input);
  // The input's video has ended (the tile shows the placeholder after the last frame).
  void end_video(InputId input);
  // The input has ended at call time `end` (a file exhausted, a leave, share off).
  void end_input(InputId input, MediaTime end);
  bool input_ended(InputId input) const { return inputs_[input].end_us.has_value(); }

  // The end of all media is known once every input has ended and the driver says no more
  // inputs are coming; without a stop, that closes the record timeline.
  void set_no_more_inputs() { no_more_inputs_ = true; }

  RecordTimeline& timeline() { return timeline_; }

  // Makes at most one output period. `clock_limit_us`: call time up to which input is
  // final (live); `wait_for_inputs`: the offline watermark.
  StepResult step(int64_t clock_limit_us, bool wait_for_inputs, InputId* lagging);
  // After step() returned kWaitClock: the clock limit the next step needs (a live
  // driver sleeps until its clock gets there).
  std::optional<MediaTime> clock_limit_needed() const { return clock_limit_needed_; }

  // Closes the last chunk and writes recording.json; returns the notification.
  nlohmann::json finish(const std::string& session_end_reason);

  // Call time of the next period to be composed, output written so far, and the call time
  // of media the next step needs to be final (for pacing and progress).
  int64_t output_us() const { return period_ * kPeriodUs; }
  int64_t next_call_us() const { return timeline_.call_from_output(output_us()); }
  int64_t periods_written() const { return period_; }
  // Call time up to which audio has been mixed (a pause can no longer be placed before it).
  int64_t mixed_until_us() const { return MediaTime(mixer_.next_sample(), mixer::kOutputTimeBase).us(); }
  int64_t video_frames_dropped_late() const { return video_dropped_late_; }

  mixer::SourceStats audio_stats(const std::string& participant_id) const;

  muxer::ChunkAnnotation annotate(MediaTime output_start, MediaTime output_end, bool last_chunk) override;
  void chunk_written(const nlohmann::json& metadata) override;

  static constexpr int64_t kPeriodUs = 1'000'000 / muxer::kFrameRate;

 private:
  struct Input {
    ParticipantIndex participant;
    bool screen_share;
    int64_t start_us;
    std::optional<int64_t> end_us;
    std::optional<mixer::SourceId> audio_source;
    bool has_video = false;
    bool audio_done = false;
    bool video_done = false;
    std::optional<int64_t> last_video_us;
    std::optional<int64_t> last_video_spacing_us;  // between the last two decoded pictures
    // Decoded pictures not yet handed to the compositor: their tile is not on screen yet,
    // or they lie after the next composed instant (see drop_unseen_pictures()).
    std::deque<std::pair<av::FramePtr, int64_t>> pending_video;
    std::optional<int64_t> handed_video_us;  // the last picture handed to the compositor
    bool video_end_sent = false;
  };
  struct Participant {
    std::string participant_id;
    std::string display_name;
    std::optional<compositor::ParticipantId> camera_tile;
    std::optional<compositor::ParticipantId> screen_tile;
    std::optional<int64_t> spoke_at_us;  // last voice activity not yet given to the compositor
    // Stretches of output time during which the participant was in the call.
    std::vector<std::pair<int64_t, int64_t>> present_output_us;
    ParticipantActivity activity;  // for the chunk metadata's "participantActivity"
  };

  enum class FillResult { kFull, kEnd, kNeedInput, kWaitClock };
  FillResult fill_audio(int want, int64_t clock_limit_us, bool wait_for_inputs, InputId* lagging);
  std::optional<InputId> audio_lagging(int64_t until_sample) const;
  std::optional<InputId> video_lagging(int64_t call_us) const;
  void refresh_end();
  bool input_present(const Input& in, int64_t call_us) const;
  void update_presence(int64_t call_us, int64_t out_us);
  void heard(ParticipantIndex p, int64_t at_us, int64_t duration_us);
  void record_activity(int64_t call_us, int64_t out_us);
  void drop_unseen_pictures(Input& in) const;
  mixer::SourceId audio_source(Input& in);

  SessionCoreConfig config_;
  RecordTimeline timeline_;
  bool end_fixed_ = false;
  bool no_more_inputs_ = false;
  std::vector<Participant> participants_;
  std::deque<Input> inputs_;  // a deque: Input is not nothrow-movable
  mixer::AudioMixer mixer_;
  compositor::VideoCompositor compositor_;
  std::unique_ptr<PeriodWriter> writer_;
  std::vector<float> mix_buffer_;
  std::vector<float> fifo_;  // recorded (unpaused) mixed samples not yet written
  size_t fifo_read_ = 0;
  int64_t period_ = 0;
  std::optional<int64_t> last_composed_us_;
  int64_t video_dropped_late_ = 0;
  std::optional<MediaTime> clock_limit_needed_;
  // Pictures the compositor failed to paint (the tile showed the placeholder).
  std::vector<std::string> paint_problems_;
};

}  // namespace callrec::engine
