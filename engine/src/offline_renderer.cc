#include "callrec/engine/offline_renderer.h"

#include <algorithm>
#include <deque>
#include <random>

#include "callrec/compositor/video_compositor.h"
#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/engine/record_timeline.h"
#include "callrec/mixer/audio_mixer.h"
#include "media_input.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace callrec::engine {
namespace {

constexpr int64_t kPeriodUs = 1'000'000 / muxer::kFrameRate;
constexpr int kPeriodSamples = muxer::kSamplesPerPeriod;
static_assert(mixer::kOutputRateHz == muxer::kSampleRateHz);

int64_t us_to_samples(int64_t us) { return MediaTime::from_us(us).rescaled(mixer::kOutputTimeBase).ticks(); }

std::string random_uuid() {
  std::random_device rd;
  std::uniform_int_distribution<int> byte(0, 255);
  uint8_t b[16];
  for (uint8_t& x : b) x = static_cast<uint8_t>(byte(rd));
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // variant 1
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 15];
  }
  return out;
}

// One media entry of a participant.
struct Entry {
  MediaInput input;
  size_t participant;
  bool screen_share;
  std::optional<mixer::SourceId> audio_source;
  // Decoded pictures not yet handed to the compositor (their tile is not on screen yet).
  std::deque<std::pair<av::FramePtr, int64_t>> pending_video;
  bool video_end_sent = false;
};

struct ParticipantState {
  const Participant* info;
  std::optional<compositor::ParticipantId> camera_tile;
  std::optional<compositor::ParticipantId> screen_tile;
  // Stretches of output time during which the participant was in the call.
  std::vector<std::pair<int64_t, int64_t>> present_output_us;
};

// Renders one call. Lives on the caller's thread for the duration of render_call().
class CallRender final : public muxer::ChunkAnnotator {
 public:
  CallRender(const Manifest& manifest, const RenderOptions& options)
      : manifest_(manifest), options_(options), timeline_(manifest.timeline) {
    // Open every input before anything is written, so bad input fails cleanly.
    for (size_t p = 0; p < manifest.participants.size(); ++p) {
      const Participant& part = manifest.participants[p];
      participants_.push_back(ParticipantState{&part, std::nullopt, std::nullopt, {}});
      for (const MediaEntry& m : part.media) {
        const std::string label = m.field + ".file \"" + m.file_as_written + "\"";
        entries_.push_back(Entry{MediaInput(m.file, label, m.offset_ms * 1000), p, m.screen_share,
                                 std::nullopt, {}, false});
      }
    }
    for (Entry& e : entries_)
      if (e.input.has_audio()) e.audio_source = mixer_.add_source(participants_[e.participant].info->participant_id);
    mix_buffer_.resize(mixer::kFrameSamples);
  }

  RenderResult run() {
    muxer::RecordingConfig config{
        .out_dir = options_.out_dir,
        .call_id = manifest_.call_id,
        .resource_id = manifest_.resource_id,
        .recording_id = manifest_.recording_id.value_or(random_uuid()),
        .recording_start_time = WallClock{manifest_.recording_start_time.unix_us + timeline_.first_start_us()},
        .max_chunk_bytes =
            options_.max_chunk_bytes.value_or(manifest_.max_chunk_bytes.value_or(muxer::kDefaultMaxChunkBytes)),
        .encoder = options_.encoder};
    muxer::RecordingWriter writer(config, *this);

    const auto on_audio = [this](const AVFrame& f, MediaTime t) { mixer_.push(*current_audio_source_, f, t); };
    const auto on_video = [this](const AVFrame& f, MediaTime t) {
      av::FramePtr copy = av::make_frame();
      check_av(av_frame_ref(copy.get(), &f), "referencing a decoded picture");
      current_entry_->pending_video.emplace_back(std::move(copy), t.us());
    };
    on_audio_ = on_audio;
    on_video_ = on_video;

    for (int64_t period = 0;; ++period) {
      const int64_t out_us = period * kPeriodUs;
      fill_audio(kPeriodSamples);
      const int64_t call_us = timeline_.call_from_output(out_us);
      drive_video(call_us);
      refresh_end();
      if (timeline_.end_us() && out_us >= timeline_.output_duration_us()) break;

      update_presence(call_us, out_us);
      const AVFrame& canvas = compositor_.compose(MediaTime::from_us(call_us));
      const int samples = static_cast<int>(std::min<size_t>(kPeriodSamples, fifo_.size() - fifo_read_));
      writer.write_period(canvas, std::span<const float>(fifo_.data() + fifo_read_, samples));
      fifo_read_ += samples;
      if (options_.on_progress) options_.on_progress(RenderProgress{call_us, estimated_end_us(), out_us + kPeriodUs});
    }
    RenderResult result;
    result.notification = writer.finish(manifest_.timeline.empty() ||
                                                manifest_.timeline.back().kind != TimelineActionKind::kStop
                                            ? "CallEnded"
                                            : "RecordingStopped");
    result.problems = problems();
    return result;
  }

  muxer::ChunkAnnotation annotate(MediaTime output_start, MediaTime output_end, bool last_chunk) override {
    const int64_t start_us = output_start.us();
    const int64_t end_us = output_end.us();
    muxer::ChunkAnnotation a;
    a.start_time = WallClock{manifest_.recording_start_time.unix_us + timeline_.call_from_output(start_us)};
    for (const RecordTimeline::Pause& p : timeline_.pauses()) {
      const int64_t at = timeline_.output_from_call(p.start_us);
      if ((at >= start_us && at < end_us) || (last_chunk && at == end_us)) {
        const int64_t pause_end = p.end_us.value_or(p.start_us);
        a.pauses.push_back({WallClock{manifest_.recording_start_time.unix_us + p.start_us},
                            (pause_end - p.start_us) / 1000});
      }
    }
    for (const ParticipantState& p : participants_) {
      const bool present = std::any_of(p.present_output_us.begin(), p.present_output_us.end(),
                                       [&](const auto& span) { return span.first < end_us && span.second > start_us; });
      if (present) a.participant_ids.push_back(p.info->participant_id);
    }
    const std::vector<std::string> issues = problems();
    if (!issues.empty()) a.extra["mediaProblems"] = issues;
    return a;
  }

 private:
  // Decodes every started input until its audio reaches call sample `until_sample`.
  void drive_audio(int64_t until_sample) {
    const int64_t until_us = MediaTime(until_sample, mixer::kOutputTimeBase).us();
    for (Entry& e : entries_) {
      if (e.input.offset_us() >= until_us) continue;
      while (!e.input.done() && e.input.has_audio() && !e.input.audio_done() &&
             mixer_.buffered_until(*e.audio_source) < until_sample)
        step(e);
    }
  }

  // Decodes every started input until it has a picture at or after `call_us`.
  void drive_video(int64_t call_us) {
    for (Entry& e : entries_) {
      if (e.input.offset_us() > call_us) continue;
      while (!e.input.done() && e.input.has_video() &&
             e.input.last_video_frame_us().value_or(INT64_MIN) < call_us)
        step(e);
    }
  }

  void step(Entry& e) {
    current_entry_ = &e;
    current_audio_source_ = e.audio_source ? &*e.audio_source : nullptr;
    // At the end of a file, the resampler's last couple of milliseconds are placed too.
    if (!e.input.step(on_audio_, on_video_) && e.audio_source) mixer_.flush(*e.audio_source);
  }

  // Mixes call-timeline frames until `want` recorded samples are waiting (or the end).
  void fill_audio(int want) {
    // Drop what was written; at most a period's worth moves, and capacity is kept.
    fifo_.erase(fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(fifo_read_));
    fifo_read_ = 0;
    while (fifo_.size() - fifo_read_ < static_cast<size_t>(want)) {
      const int64_t first = mixer_.next_sample();
      drive_audio(first + mixer::kFrameSamples);
      refresh_end();
      const std::optional<int64_t> end = timeline_.end_us();
      if (end && first >= us_to_samples(*end)) return;
      mixer_.mix(std::span<float, mixer::kFrameSamples>(mix_buffer_.data(), mixer::kFrameSamples));
      // Keep only the samples inside recorded intervals: paused audio is cut here.
      const int64_t last = first + mixer::kFrameSamples;
      for (const RecordTimeline::Interval& i : timeline_.intervals()) {
        const int64_t a = std::max(first, us_to_samples(i.start_us));
        const int64_t b = std::min(last, i.end_us ? us_to_samples(*i.end_us) : last);
        if (a < b) fifo_.insert(fifo_.end(), mix_buffer_.begin() + (a - first), mix_buffer_.begin() + (b - first));
      }
    }
  }

  // Once every input is exhausted, the end of the media is known.
  void refresh_end() {
    if (end_fixed_) return;
    int64_t media_end = 0;
    for (const Entry& e : entries_) {
      if (!e.input.done()) return;
      media_end = std::max(media_end, e.input.end_us());
    }
    timeline_.close_at(media_end);
    end_fixed_ = true;
  }

  std::optional<int64_t> estimated_end_us() const {
    if (const auto end = timeline_.end_us()) return end;
    int64_t end = 0;
    for (const Entry& e : entries_) end = std::max(end, e.input.probed_end_us().value_or(e.input.offset_us()));
    return end;
  }

  static bool entry_present(const Entry& e, int64_t call_us) {
    return e.input.offset_us() <= call_us && !(e.input.done() && call_us >= e.input.end_us());
  }

  // Joins and leaves tiles for time `call_us` and hands waiting pictures to the compositor.
  void update_presence(int64_t call_us, int64_t out_us) {
    for (size_t p = 0; p < participants_.size(); ++p) {
      ParticipantState& ps = participants_[p];
      bool camera = false, screen = false;
      for (const Entry& e : entries_)
        if (e.participant == p && entry_present(e, call_us)) (e.screen_share ? screen : camera) = true;
      // A participant sharing a screen without a camera entry is still in the call.
      const bool in_call = camera || screen;
      set_tile(ps.camera_tile, in_call, [&] { return compositor_.join(ps.info->participant_id, ps.info->display_name); });
      set_tile(ps.screen_tile, screen, [&] { return compositor_.join_screen_share(ps.info->participant_id); });
      if (in_call) {
        if (!ps.present_output_us.empty() && ps.present_output_us.back().second == out_us)
          ps.present_output_us.back().second = out_us + kPeriodUs;
        else
          ps.present_output_us.emplace_back(out_us, out_us + kPeriodUs);
      }
    }
    for (Entry& e : entries_) {
      ParticipantState& ps = participants_[e.participant];
      const std::optional<compositor::ParticipantId>& tile = e.screen_share ? ps.screen_tile : ps.camera_tile;
      if (!tile) {
        // Not on screen: pictures from before the join wait, those of a finished entry go.
        if (e.input.done() && e.input.offset_us() <= call_us) e.pending_video.clear();
        continue;
      }
      if (!entry_present(e, call_us) && e.input.offset_us() > call_us) continue;  // a later rejoin
      while (!e.pending_video.empty()) {
        compositor_.push_frame(*tile, *e.pending_video.front().first, MediaTime::from_us(e.pending_video.front().second));
        e.pending_video.pop_front();
      }
      if (e.input.has_video() && e.input.video_done() && !e.video_end_sent) {
        compositor_.end_video(*tile);
        e.video_end_sent = true;
      }
    }
  }

  template <typename Join>
  void set_tile(std::optional<compositor::ParticipantId>& tile, bool wanted, const Join& join) {
    if (wanted && !tile) tile = join();
    if (!wanted && tile) {
      compositor_.leave(*tile);
      tile.reset();
    }
  }

  std::vector<std::string> problems() const {
    std::vector<std::string> out;
    for (const Entry& e : entries_) out.insert(out.end(), e.input.problems().begin(), e.input.problems().end());
    return out;
  }

  const Manifest& manifest_;
  const RenderOptions& options_;
  RecordTimeline timeline_;
  bool end_fixed_ = false;
  std::vector<ParticipantState> participants_;
  std::vector<Entry> entries_;
  mixer::AudioMixer mixer_;
  compositor::VideoCompositor compositor_;
  std::vector<float> mix_buffer_;
  std::vector<float> fifo_;  // recorded (unpaused) mixed samples not yet written
  size_t fifo_read_ = 0;
  MediaInput::FrameCallback on_audio_, on_video_;
  Entry* current_entry_ = nullptr;
  const mixer::SourceId* current_audio_source_ = nullptr;
};

}  // namespace

RenderResult render_call(const Manifest& manifest, const RenderOptions& options) {
  CallRender render(manifest, options);
  return render.run();
}

}  // namespace callrec::engine
