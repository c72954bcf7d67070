#include "session_core.h"

#include <algorithm>
#include <cmath>

#include "callrec/core/error.h"

#include <opus/opus.h>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/samplefmt.h>
}

namespace callrec::engine {
namespace {
// How far an input's audio may run ahead of its missing pictures before the offline
// driver stops waiting for them: the compositor's default stall timeout.
constexpr int64_t kVideoWaitLimitUs = 2'000'000;

constexpr int kPeriodSamples = muxer::kSamplesPerPeriod;
// Paint failures listed in the metadata (the compositor counts them all).
constexpr size_t kMaxPaintProblems = 16;
static_assert(mixer::kOutputRateHz == muxer::kSampleRateHz);

// RMS above this (about -40 dBFS) counts as voice activity for the speaker order.
constexpr double kVoiceRms = 0.01;

int64_t us_to_samples(int64_t us) { return MediaTime::from_us(us).rescaled(mixer::kOutputTimeBase).ticks(); }

// RMS of the first channel of a float or 16-bit frame; nullopt for other formats.
std::optional<double> frame_rms(const AVFrame& f) {
  if (f.nb_samples <= 0) return std::nullopt;
  const int channels = f.ch_layout.nb_channels > 0 ? f.ch_layout.nb_channels : 1;
  const auto fmt = static_cast<AVSampleFormat>(f.format);
  const bool planar = av_sample_fmt_is_planar(fmt);
  const int stride = planar ? 1 : channels;
  double sum = 0;
  switch (fmt) {
    case AV_SAMPLE_FMT_FLT:
    case AV_SAMPLE_FMT_FLTP: {
      const auto* s = reinterpret_cast<const float*>(f.data[0]);
      for (int i = 0; i < f.nb_samples; ++i) sum += double(s[i * stride]) * s[i * stride];
      break;
    }
    case AV_SAMPLE_FMT_S16:
    case AV_SAMPLE_FMT_S16P: {
      const auto* s = reinterpret_cast<const int16_t*>(f.data[0]);
      for (int i = 0; i < f.nb_samples; ++i) sum += (double(s[i * stride]) * s[i * stride]) / (32768.0 * 32768.0);
      break;
    }
    default:
      return std::nullopt;
  }
  return std::sqrt(sum / f.nb_samples);
}

class RecordingPeriodWriter final : public PeriodWriter {
 public:
  RecordingPeriodWriter(const muxer::RecordingConfig& config, muxer::ChunkAnnotator& annotator)
      : writer_(config, annotator) {}
  void write_period(const AVFrame& video, std::span<const float> audio) override { writer_.write_period(video, audio); }
  nlohmann::json finish(const std::string& session_end_reason) override { return writer_.finish(session_end_reason); }

 private:
  muxer::RecordingWriter writer_;
};

}  // namespace

SessionCore::SessionCore(SessionCoreConfig config, RecordTimeline timeline)
    : config_(std::move(config)),
      timeline_(std::move(timeline)),
      mixer_(config_.mixer),
      compositor_(config_.compositor) {
  mix_buffer_.resize(mixer::kFrameSamples);
  fifo_.reserve(kPeriodSamples + 2 * mixer::kFrameSamples);
  writer_ = config_.make_writer ? config_.make_writer(config_.recording, *this)
                                : std::make_unique<RecordingPeriodWriter>(config_.recording, *this);
}

SessionCore::~SessionCore() = default;

SessionCore::ParticipantIndex SessionCore::add_participant(std::string participant_id, std::string display_name) {
  participants_.push_back(Participant{std::move(participant_id), std::move(display_name), {}, {}, {}, {}});
  return participants_.size() - 1;
}

SessionCore::InputId SessionCore::add_input(ParticipantIndex participant, bool screen_share, MediaTime start,
                                            bool has_audio, bool has_video) {
  inputs_.push_back(Input{participant, screen_share, start.us(), std::nullopt, std::nullopt, has_video});
  Input& in = inputs_.back();
  if (has_audio) in.audio_source = mixer_.add_source(participants_[participant].participant_id);
  return inputs_.size() - 1;
}

mixer::SourceId SessionCore::audio_source(Input& in) {
  if (!in.audio_source) in.audio_source = mixer_.add_source(participants_[in.participant].participant_id);
  return *in.audio_source;
}

void SessionCore::heard(ParticipantIndex p, int64_t at_us, int64_t duration_us) {
  Participant& part = participants_[p];
  part.spoke_at_us = std::max(part.spoke_at_us.value_or(at_us), at_us);
  part.activity.heard(at_us, at_us + duration_us);
}

void SessionCore::push_audio(InputId input, const AVFrame& frame, MediaTime start) {
  const StageScope stage(config_.stage_clock, Stage::kMix);
  Input& in = inputs_[input];
  mixer_.push(audio_source(in), frame, start);
  if (const auto level = frame_rms(frame); level && *level > kVoiceRms && frame.sample_rate > 0)
    heard(in.participant, start.us(), int64_t{frame.nb_samples} * 1'000'000 / frame.sample_rate);
}

void SessionCore::push_opus(InputId input, std::span<const uint8_t> packet, MediaTime start, bool voice_active) {
  const StageScope stage(config_.stage_clock, Stage::kMix);
  Input& in = inputs_[input];
  mixer_.push_opus(audio_source(in), packet, start);
  if (voice_active) {
    // An empty packet (a live backend may push one, with a level saying voice) has no
    // frame to count: libopus must not be handed it.
    const int samples =
        packet.empty() ? 0 : opus_packet_get_nb_samples(packet.data(), static_cast<opus_int32>(packet.size()), 48000);
    heard(in.participant, start.us(), samples > 0 ? int64_t{samples} * 1'000'000 / 48000 : 20'000);
  }
}

bool SessionCore::push_video(InputId input, const AVFrame& frame, MediaTime pts) {
  const StageScope stage(config_.stage_clock, Stage::kComposite);
  Input& in = inputs_[input];
  if (const std::optional<std::string> problem = compositor::VideoCompositor::picture_problem(frame)) {
    throw Error("video of participant " + participants_[in.participant].participant_id + ": " + *problem);
  }
  const int64_t us = pts.us();
  if (config_.drop_late_video &&
      ((last_composed_us_ && us < *last_composed_us_) || (in.last_video_us && us <= *in.last_video_us))) {
    ++video_dropped_late_;
    return false;
  }
  in.has_video = true;
  av::FramePtr copy = av::make_frame();
  check_av(av_frame_ref(copy.get(), &frame), "referencing a decoded picture");
  in.pending_video.emplace_back(std::move(copy), us);
  if (in.last_video_us && us > *in.last_video_us) in.last_video_spacing_us = us - *in.last_video_us;
  in.last_video_us = us;
  drop_unseen_pictures(in);
  return true;
}

// Lets go of waiting pictures that can never be shown, as soon as the one after them is
// decoded. Without this, skipping paused time (or a backend pushing far ahead) queues
// every decoded picture, and the file driver, which decodes up to a period ahead, keeps
// four or five per 30 fps camera; each pins a buffer of its decoder's picture pool.
//
// A picture is shown at the composed instants t nearer to it than to its neighbours:
// after the midpoint with the one before, up to the midpoint with the one after (ties
// keep the earlier picture, as FrameQueue::select does). Composed instants are the next
// one and then at least a period apart in call time (paused time only widens the gaps).
// So a picture is never shown if the one after it is at or before the next instant, or
// if its window lies strictly between the next instant and the one a period later (two
// or three of every four pictures of a 30 fps camera). Live, a pause placed at the next
// instant itself (possible until its audio is mixed) moves composing to wherever the
// resume comes, possibly less than a period later: until then only the first rule holds.
void SessionCore::drop_unseen_pictures(Input& in) const {
  auto& q = in.pending_video;
  const int64_t next_compose_us = next_call_us();
  while (q.size() >= 2 && q[1].second <= next_compose_us) q.pop_front();
  if (q.size() < 2) return;
  const size_t candidate = q.size() - 2;
  const std::optional<int64_t> before = candidate > 0 ? std::optional(q[candidate - 1].second) : in.handed_video_us;
  if (!before) return;
  if (!picture_may_show(*before, q[candidate].second, q.back().second))
    q.erase(q.begin() + static_cast<std::ptrdiff_t>(candidate));
}

bool SessionCore::picture_may_show(int64_t before_us, int64_t pts_us, int64_t after_us) const {
  const int64_t next_compose_us = next_call_us();
  if (after_us <= next_compose_us) return false;
  if (config_.timeline_may_change && mixed_until_us() <= next_compose_us) return true;
  // Shown at t when 2t > before + pts and 2t <= pts + after (in doubled microseconds).
  const bool shown_next = 2 * next_compose_us > before_us + pts_us && 2 * next_compose_us <= pts_us + after_us;
  const bool shown_later = 2 * (next_compose_us + kPeriodUs) <= pts_us + after_us;
  return shown_next || shown_later;
}

void SessionCore::skip_video(InputId input, MediaTime pts) {
  Input& in = inputs_[input];
  const int64_t us = pts.us();
  if (in.last_video_us && us > *in.last_video_us) in.last_video_spacing_us = us - *in.last_video_us;
  in.last_video_us = us;
}

void SessionCore::end_audio(InputId input) { inputs_[input].audio_done = true; }

void SessionCore::end_video(InputId input) { inputs_[input].video_done = true; }

void SessionCore::end_input(InputId input, MediaTime end) {
  Input& in = inputs_[input];
  if (in.end_us) return;
  in.end_us = std::max(end.us(), in.start_us);
  // At the end of an input, the resampler's last couple of milliseconds are placed too.
  if (in.audio_source) mixer_.flush(*in.audio_source);
}

std::optional<SessionCore::InputId> SessionCore::audio_lagging(int64_t until_sample) const {
  const int64_t until_us = MediaTime(until_sample, mixer::kOutputTimeBase).us();
  for (InputId i = 0; i < inputs_.size(); ++i) {
    const Input& in = inputs_[i];
    if (in.start_us >= until_us) continue;
    if (!in.end_us && in.audio_source && !in.audio_done && mixer_.buffered_until(*in.audio_source) < until_sample)
      return i;
  }
  return std::nullopt;
}

std::optional<SessionCore::InputId> SessionCore::video_lagging(int64_t call_us) const {
  for (InputId i = 0; i < inputs_.size(); ++i) {
    const Input& in = inputs_[i];
    if (in.start_us > call_us) continue;
    // A camera that stopped while its audio goes on: once the audio is a stall timeout
    // ahead, the compositor shows the placeholder anyway, so stop waiting for a picture
    // (waiting would read, and buffer, the rest of the file's audio at once).
    if (in.audio_source &&
        MediaTime(mixer_.buffered_until(*in.audio_source), mixer::kOutputTimeBase).us() >
            call_us + kVideoWaitLimitUs)
      continue;
    if (!in.end_us && in.has_video && in.last_video_us.value_or(INT64_MIN) < call_us) return i;
  }
  return std::nullopt;
}

// Once every input has ended and no more are coming, the end of the media is known.
void SessionCore::refresh_end() {
  if (end_fixed_ || !no_more_inputs_) return;
  int64_t media_end = 0;
  for (const Input& in : inputs_) {
    if (!in.end_us) return;
    media_end = std::max(media_end, *in.end_us);
  }
  timeline_.close_at(media_end);
  end_fixed_ = true;
}

SessionCore::FillResult SessionCore::fill_audio(int want, int64_t clock_limit_us, bool wait_for_inputs,
                                                InputId* lagging) {
  // Drop what was written; at most a period's worth moves, and capacity is kept.
  fifo_.erase(fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(fifo_read_));
  fifo_read_ = 0;
  while (fifo_.size() < static_cast<size_t>(want)) {
    const int64_t first = mixer_.next_sample();
    const int64_t last = first + mixer::kFrameSamples;
    if (wait_for_inputs) {
      if (const auto in = audio_lagging(last)) {
        *lagging = *in;
        return FillResult::kNeedInput;
      }
    }
    refresh_end();
    const std::optional<int64_t> end = timeline_.end_us();
    if (end && first >= us_to_samples(*end)) return FillResult::kEnd;
    if (MediaTime(last, mixer::kOutputTimeBase).us() > clock_limit_us) {
      clock_limit_needed_ = MediaTime(last, mixer::kOutputTimeBase);
      return FillResult::kWaitClock;
    }
    mixer_.mix(std::span<float, mixer::kFrameSamples>(mix_buffer_.data(), mixer::kFrameSamples));
    // Keep only the samples inside recorded intervals: paused audio is cut here.
    for (const RecordTimeline::Interval& i : timeline_.intervals()) {
      const int64_t a = std::max(first, us_to_samples(i.start_us));
      const int64_t b = std::min(last, i.end_us ? us_to_samples(*i.end_us) : last);
      if (a < b) fifo_.insert(fifo_.end(), mix_buffer_.begin() + (a - first), mix_buffer_.begin() + (b - first));
    }
  }
  return FillResult::kFull;
}

SessionCore::StepResult SessionCore::step(int64_t clock_limit_us, bool wait_for_inputs, InputId* lagging) {
  const int64_t out_us = output_us();
  FillResult filled;
  {
    const StageScope stage(config_.stage_clock, Stage::kMix);
    filled = fill_audio(kPeriodSamples, clock_limit_us, wait_for_inputs, lagging);
  }
  switch (filled) {
    case FillResult::kNeedInput:
      return StepResult::kNeedInput;
    case FillResult::kWaitClock:
      return StepResult::kWaitClock;
    case FillResult::kFull:
    case FillResult::kEnd:
      break;
  }
  const int64_t call_us = timeline_.call_from_output(out_us);
  if (wait_for_inputs) {
    if (const auto in = video_lagging(call_us)) {
      *lagging = *in;
      return StepResult::kNeedInput;
    }
  }
  refresh_end();
  if (timeline_.end_us() && out_us >= timeline_.output_duration_us()) return StepResult::kFinished;
  // The picture nearest to call_us may lie up to half a period after it.
  if (clock_limit_us != kNoClockLimit && call_us + kPeriodUs / 2 > clock_limit_us) {
    clock_limit_needed_ = MediaTime::from_us(call_us + kPeriodUs / 2);
    return StepResult::kWaitClock;
  }
  clock_limit_needed_.reset();

  StageScope composite(config_.stage_clock, Stage::kComposite);
  update_presence(call_us, out_us);
  const AVFrame& canvas = compositor_.compose(MediaTime::from_us(call_us));
  for (std::string& problem : compositor_.take_problems()) {
    if (paint_problems_.size() < kMaxPaintProblems) paint_problems_.push_back(std::move(problem));
  }
  last_composed_us_ = call_us;
  record_activity(call_us, out_us);
  const int samples = static_cast<int>(std::min<size_t>(kPeriodSamples, fifo_.size() - fifo_read_));
  const StageScope encode(config_.stage_clock, Stage::kEncodeMux);
  writer_->write_period(canvas, std::span<const float>(fifo_.data() + fifo_read_, samples));
  fifo_read_ += samples;
  ++period_;
  return StepResult::kWrotePeriod;
}

nlohmann::json SessionCore::finish(const std::string& session_end_reason) {
  const StageScope stage(config_.stage_clock, Stage::kEncodeMux);
  return writer_->finish(session_end_reason);
}

bool SessionCore::input_present(const Input& in, int64_t call_us) const {
  return in.start_us <= call_us && !(in.end_us && call_us >= *in.end_us);
}

// Joins and leaves tiles for time `call_us` and hands waiting pictures to the compositor.
void SessionCore::update_presence(int64_t call_us, int64_t out_us) {
  for (ParticipantIndex p = 0; p < participants_.size(); ++p) {
    Participant& ps = participants_[p];
    bool camera = false, screen = false;
    for (const Input& in : inputs_)
      if (in.participant == p && input_present(in, call_us)) (in.screen_share ? screen : camera) = true;
    // A participant sharing a screen without a camera entry is still in the call.
    const bool in_call = camera || screen;
    if (in_call && !ps.camera_tile) ps.camera_tile = compositor_.join(ps.participant_id, ps.display_name);
    if (!in_call && ps.camera_tile) {
      compositor_.leave(*ps.camera_tile);
      ps.camera_tile.reset();
    }
    if (screen && !ps.screen_tile) ps.screen_tile = compositor_.join_screen_share(ps.participant_id);
    if (!screen && ps.screen_tile) {
      compositor_.leave(*ps.screen_tile);
      ps.screen_tile.reset();
    }
    if (ps.camera_tile && ps.spoke_at_us && *ps.spoke_at_us <= call_us) {
      compositor_.set_speaking(*ps.camera_tile, MediaTime::from_us(*ps.spoke_at_us));
      ps.spoke_at_us.reset();
    }
    if (in_call) {
      if (!ps.present_output_us.empty() && ps.present_output_us.back().second == out_us)
        ps.present_output_us.back().second = out_us + kPeriodUs;
      else
        ps.present_output_us.emplace_back(out_us, out_us + kPeriodUs);
    }
  }
  for (Input& in : inputs_) {
    Participant& ps = participants_[in.participant];
    const std::optional<compositor::ParticipantId>& tile = in.screen_share ? ps.screen_tile : ps.camera_tile;
    if (!tile) {
      // Not on screen: pictures from before the join wait, those of a finished input go.
      if (in.end_us && in.start_us <= call_us) in.pending_video.clear();
      continue;
    }
    if (!input_present(in, call_us) && in.start_us > call_us) continue;  // a later rejoin
    // The compositor needs the pictures up to the first one at or after call_us to pick
    // the nearest; later ones stay here, where drop_unseen_pictures() can still let go of
    // those that will never be shown.
    while (!in.pending_video.empty() && !(in.handed_video_us && *in.handed_video_us >= call_us)) {
      compositor_.push_frame(*tile, *in.pending_video.front().first, MediaTime::from_us(in.pending_video.front().second));
      in.handed_video_us = in.pending_video.front().second;
      in.pending_video.pop_front();
    }
    if (in.has_video && in.video_done && !in.video_end_sent && in.pending_video.empty()) {
      compositor_.end_video(*tile, in.last_video_spacing_us
                                       ? std::optional(MediaTime::from_us(*in.last_video_spacing_us))
                                       : std::nullopt);
      in.video_end_sent = true;
    }
  }
}

// What each participant did during the period just composed (participant_activity.h).
void SessionCore::record_activity(int64_t call_us, int64_t out_us) {
  for (Participant& ps : participants_) {
    const ParticipantActivity::State state{
        .present = ps.camera_tile.has_value(),
        .camera = ps.camera_tile && compositor_.shows_picture(*ps.camera_tile),
        .screen_share = ps.screen_tile.has_value(),
        .speaking = ps.activity.heard_during(call_us, call_us + kPeriodUs)};
    ps.activity.record(out_us, call_us, kPeriodUs, state);
  }
}

mixer::SourceStats SessionCore::audio_stats(const std::string& participant_id) const {
  mixer::SourceStats total;
  for (const Input& in : inputs_) {
    if (!in.audio_source || participants_[in.participant].participant_id != participant_id) continue;
    const mixer::SourceStats s = mixer_.stats(*in.audio_source);
    total.samples_received += s.samples_received;
    total.samples_mixed += s.samples_mixed;
    total.gaps_filled += s.gaps_filled;
    total.samples_concealed += s.samples_concealed;
    total.samples_dropped_late += s.samples_dropped_late;
    total.drift_corrected_samples += s.drift_corrected_samples;
    total.packets_lost += s.packets_lost;
    total.packets_corrupt += s.packets_corrupt;
    total.packets_discarded += s.packets_discarded;
    total.samples_invalid += s.samples_invalid;
  }
  return total;
}

muxer::ChunkAnnotation SessionCore::annotate(MediaTime output_start, MediaTime output_end, bool last_chunk) {
  const int64_t start_us = output_start.us();
  const int64_t end_us = output_end.us();
  const int64_t epoch_us = config_.call_epoch.unix_us;
  muxer::ChunkAnnotation a;
  a.start_time = WallClock{epoch_us + timeline_.earliest_call_from_output(start_us)};
  for (const RecordTimeline::Pause& p : timeline_.pauses()) {
    const int64_t at = timeline_.output_from_call(p.start_us);
    if ((at >= start_us && at < end_us) || (last_chunk && at == end_us)) {
      const int64_t pause_end = p.end_us.value_or(p.start_us);
      a.pauses.push_back({WallClock{epoch_us + p.start_us}, (pause_end - p.start_us) / 1000});
    }
  }
  // Per-participant media counters, cumulative from the start of the recording.
  nlohmann::json stats = nlohmann::json::array();
  for (const Participant& p : participants_) {
    const bool present = std::any_of(p.present_output_us.begin(), p.present_output_us.end(),
                                     [&](const auto& span) { return span.first < end_us && span.second > start_us; });
    if (present) a.participant_ids.push_back(p.participant_id);
    const mixer::SourceStats s = audio_stats(p.participant_id);
    nlohmann::json entry = {{"participantId", p.participant_id},
                            {"audioSamplesReceived", s.samples_received},
                            {"audioSamplesConcealed", s.samples_concealed},
                            {"audioGapsFilled", s.gaps_filled},
                            {"audioDriftCorrectedSamples", s.drift_corrected_samples},
                            {"audioSamplesDroppedLate", s.samples_dropped_late},
                            {"opusPacketsLost", s.packets_lost},
                            {"opusPacketsCorrupt", s.packets_corrupt},
                            {"opusPacketsDiscarded", s.packets_discarded},
                            {"audioSamplesInvalid", s.samples_invalid}};
    if (config_.participant_extra_stats) entry.update(config_.participant_extra_stats(p.participant_id));
    stats.push_back(std::move(entry));
  }
  a.extra["participantMediaStats"] = std::move(stats);
  nlohmann::json activity = nlohmann::json::array();
  for (Participant& p : participants_) {
    nlohmann::json entry = p.activity.chunk_entry(start_us, end_us, epoch_us);
    p.activity.forget_before(start_us);
    if (entry.is_null()) continue;
    entry["participantId"] = p.participant_id;
    if (!p.display_name.empty()) entry["displayName"] = p.display_name;
    activity.push_back(std::move(entry));
  }
  a.extra["participantActivity"] = std::move(activity);
  a.extra["maxChunkBytes"] = config_.recording.max_chunk_bytes;
  std::vector<std::string> issues = config_.problems ? config_.problems() : std::vector<std::string>{};
  issues.insert(issues.end(), paint_problems_.begin(), paint_problems_.end());
  if (!issues.empty()) a.extra["mediaProblems"] = std::move(issues);
  return a;
}

void SessionCore::chunk_written(const nlohmann::json& metadata) {
  if (config_.on_chunk_written) config_.on_chunk_written(metadata);
}

}  // namespace callrec::engine
