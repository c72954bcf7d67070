#include "callrec/engine/offline_renderer.h"

#include <algorithm>

#include "callrec/core/denormals.h"
#include "callrec/core/error.h"
#include "callrec/core/log.h"
#include "callrec/core/random_id.h"
#include "callrec/core/wall_clock.h"
#include "callrec/engine/record_timeline.h"
#include "media_input.h"
#include "session_core.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace callrec::engine {
namespace {


// One media entry of a participant: a file, pushed into the session core as one input.
struct Entry {
  MediaInput input;
  SessionCore::InputId core_input;
};

// Renders one call: decodes the manifest's files and pushes them into a SessionCore in
// the offline clock mode, decoding whichever input the core's watermark waits for.
// Lives on the caller's thread for the duration of render_call().
class CallRender {
 public:
  CallRender(const Manifest& manifest, const RenderOptions& options) : manifest_(manifest), options_(options) {
    // Open every input before anything is written, so bad input fails cleanly. Each is
    // let go once checked and opened again when the render reaches it: a call through
    // many files (a camera reconnecting every few minutes) holds only the ones in use.
    for (const Participant& part : manifest.participants) {
      for (const MediaEntry& m : part.media) {
        const std::string label = m.field + ".file \"" + m.file_as_written + "\"";
        inputs_.emplace_back(MediaInput(m.file, label, m.offset_ms * 1000));
        inputs_.back().suspend();
      }
    }
  }

  RenderResult run() {
    RecordTimeline timeline(manifest_.timeline);
    SessionCoreConfig config{
        .recording = {.out_dir = options_.out_dir,
                      .call_id = manifest_.call_id,
                      .resource_id = manifest_.resource_id,
                      .recording_id = manifest_.recording_id.value_or(random_uuid_v4()),
                      .recording_start_time =
                          WallClock{manifest_.recording_start_time.unix_us + timeline.first_start_us()},
                      .max_chunk_bytes = options_.max_chunk_bytes.value_or(
                          manifest_.max_chunk_bytes.value_or(muxer::kDefaultMaxChunkBytes)),
                      .encoder = options_.encoder},
        .call_epoch = manifest_.recording_start_time,
        .problems = [this] { return problems(); },
        .stage_clock = options_.measure_stages ? &stage_clock_ : nullptr};
    SessionCore core(std::move(config), std::move(timeline));

    std::vector<Entry> entries;
    size_t next_input = 0;
    for (const Participant& part : manifest_.participants) {
      const SessionCore::ParticipantIndex p = core.add_participant(part.participant_id, part.display_name);
      for (const MediaEntry& m : part.media) {
        MediaInput& in = inputs_[next_input++];
        const SessionCore::InputId id =
            core.add_input(p, m.screen_share, MediaTime::from_us(in.offset_us()), in.has_audio(), in.has_video());
        if (options_.skip_unshown_pictures) {
          in.set_picture_filter(MediaInput::PictureFilter{
              .may_show = [&core](int64_t before_us, int64_t pts_us,
                                  int64_t after_us) { return core.picture_may_show(before_us, pts_us, after_us); },
              .skipped = [&core, id](MediaTime pts) { core.skip_video(id, pts); }});
        }
        entries.push_back(Entry{std::move(in), id});
      }
    }
    inputs_.clear();
    entries_ = &entries;
    core.set_no_more_inputs();

    Entry* current = nullptr;
    const MediaInput::FrameCallback on_audio = [&](const AVFrame& f, MediaTime t) {
      core.push_audio(current->core_input, f, t);
    };
    const MediaInput::FrameCallback on_video = [&](const AVFrame& f, MediaTime t) {
      core.push_video(current->core_input, f, t);
    };
    for (;;) {
      SessionCore::InputId lagging = 0;
      const SessionCore::StepResult r = core.step(kNoClockLimit, /*wait_for_inputs=*/true, &lagging);
      if (r == SessionCore::StepResult::kFinished) break;
      if (r == SessionCore::StepResult::kWrotePeriod) {
        if (options_.on_progress) {
          const CallEnd end = estimated_end(core);
          options_.on_progress(RenderProgress{core.next_call_us(), end.end_us, core.output_us(), end.estimated});
        }
        continue;
      }
      // The watermark waits for this input: decode one more packet of it.
      current = &entries[lagging];
      MediaInput& in = current->input;
      bool more;
      {
        const StageScope stage(options_.measure_stages ? &stage_clock_ : nullptr, Stage::kDecode);
        if (in.suspended()) in.resume();
        more = in.step(on_audio, on_video);
      }
      if (in.audio_done() && in.has_audio()) core.end_audio(current->core_input);
      if (in.video_done() && in.has_video()) core.end_video(current->core_input);
      if (!more) {
        core.end_input(current->core_input, MediaTime::from_us(in.end_us()));
        in.close();  // its decoders' picture pools go now, not at the end of the call
      }
    }
    RenderResult result;
    result.notification = core.finish(manifest_.timeline.empty() ||
                                              manifest_.timeline.back().kind != TimelineActionKind::kStop
                                          ? "CallEnded"
                                          : "RecordingStopped");
    result.problems = problems();
    for (const Entry& e : entries) result.pictures_not_decoded += e.input.pictures_not_decoded();
    entries_ = nullptr;
    if (options_.measure_stages) {
      stage_clock_.settle();
      for (int s = 0; s < static_cast<int>(Stage::kCount); ++s)
        result.stage_cpu_ms.emplace_back(std::string(stage_name(static_cast<Stage>(s))),
                                         static_cast<double>(stage_clock_.cpu_ns(static_cast<Stage>(s))) / 1e6);
    }
    return result;
  }

 private:
  struct CallEnd {
    std::optional<int64_t> end_us;
    bool estimated = false;
  };

  // Where the call will end, for progress: the timeline's stop when it has one; else the
  // end of the input that ends last, as read (a file done), as its container states it,
  // or, for a file that states no duration (a live WebM capture), extrapolated from how
  // far into it reading has come; a file not reached yet at the rate of those read so
  // far. Then it is an estimate, and said to be one.
  CallEnd estimated_end(SessionCore& core) const {
    if (const auto end = core.timeline().end_us()) return {end, false};
    CallEnd out{0, false};
    int64_t end = 0;
    double read_us = 0, read_bytes = 0;  // over the files being read without a duration
    std::vector<const MediaInput*> not_reached;
    for (const Entry& e : *entries_) {
      const MediaInput& in = e.input;
      if (in.done()) {
        end = std::max(end, in.end_us());
      } else if (const auto probed = in.probed_end_us()) {
        end = std::max(end, *probed);
      } else if (in.bytes_read() > 0 && in.size_bytes() > 0) {
        const int64_t until = std::max(in.audio_until_us(), in.video_until_us());
        const double us = static_cast<double>(until - in.offset_us());
        const double fraction = static_cast<double>(in.bytes_read()) / static_cast<double>(in.size_bytes());
        end = std::max(end, in.offset_us() + static_cast<int64_t>(us / std::max(fraction, 1e-6)));
        read_us += us;
        read_bytes += static_cast<double>(in.bytes_read());
        out.estimated = true;
      } else {
        not_reached.push_back(&in);
        out.estimated = true;
      }
    }
    for (const MediaInput* in : not_reached) {
      const double us = read_bytes > 0 ? static_cast<double>(in->size_bytes()) * read_us / read_bytes : 0;
      end = std::max(end, in->offset_us() + static_cast<int64_t>(us));
    }
    // Never behind the render itself, never past what a call may last.
    out.end_us = std::min(std::max(end, core.next_call_us()), MediaLimits::kMaxCallUs);
    return out;
  }

  std::vector<std::string> problems() const {
    std::vector<std::string> out;
    if (!entries_) return out;
    // Each with the wall-clock time the file had been decoded to (the report places it).
    for (const Entry& e : *entries_)
      for (size_t i = 0; i < e.input.problems().size(); ++i)
        out.push_back(e.input.problems()[i] + " at " +
                      format_iso8601(WallClock{manifest_.recording_start_time.unix_us + e.input.problem_call_us()[i]}));
    return out;
  }

  const Manifest& manifest_;
  const RenderOptions& options_;
  std::vector<MediaInput> inputs_;          // opened, before the core exists
  const std::vector<Entry>* entries_ = nullptr;  // while run() renders
  StageClock stage_clock_;
};

}  // namespace

RenderResult render_call(const Manifest& manifest, const RenderOptions& options) {
  const ScopedFlushDenormals flush_denormals;  // decoders, mixer and AAC encoder run here
  const ScopedLogSink log_scope(options.log);   // and log here
  CallRender render(manifest, options);
  return render.run();
}

}  // namespace callrec::engine
