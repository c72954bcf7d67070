#include "callrec/engine/offline_renderer.h"

#include <algorithm>

#include "callrec/core/denormals.h"
#include "callrec/core/error.h"
#include "callrec/core/random_id.h"
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
        if (options_.on_progress)
          options_.on_progress(RenderProgress{core.next_call_us(), estimated_end_us(core), core.output_us()});
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
  std::optional<int64_t> estimated_end_us(SessionCore& core) const {
    if (const auto end = core.timeline().end_us()) return end;
    int64_t end = 0;
    for (const Entry& e : *entries_) end = std::max(end, e.input.probed_end_us().value_or(e.input.offset_us()));
    return end;
  }

  std::vector<std::string> problems() const {
    std::vector<std::string> out;
    if (!entries_) return out;
    for (const Entry& e : *entries_) out.insert(out.end(), e.input.problems().begin(), e.input.problems().end());
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
  CallRender render(manifest, options);
  return render.run();
}

}  // namespace callrec::engine
