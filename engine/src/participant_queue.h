// ParticipantQueue: one participant's pushed media on its way from the pushing threads
// to the session's output thread.
//
// Push side (any thread; internally locked): push() takes a slot of a pool allocated
// once (so a steady stream allocates nothing once buffers have grown to its packet
// sizes) and lets the caller fill it. The item's call time must lie in the window the
// session allows around its clock (`max_behind` before now to `max_ahead` after):
// media that would wait in the queue longer than that is dropped and counted instead
// of filling the queue, which would then refuse everything after it. Media with RTP
// timestamps is placed on the call timeline here, under the same lock, by one RtpClock
// per stream (audio, camera, screen), forgotten on reset_rtp() (a rejoin).
//
// Output side (one thread): collect() takes what was pushed, release() hands it on in
// call-time order up to where the output clock has come; items pushed out of order
// within the jitter window are thus placed where they belong.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/core/media_time.h"
#include "callrec/session.h"
#include "rtp_clock.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace callrec::engine {

class MediaProblemLog;

enum class MediaKind { kOpus, kPcm, kAudioFrame, kVideoFrame, kVideoPacket };
enum class RtpStream { kAudio = 0, kCamera = 1, kScreen = 2 };

// One queued piece of media. Slots are reused: buffers keep their capacity.
struct MediaItem {
  MediaKind kind = MediaKind::kOpus;
  MediaTime at = MediaTime::from_us(0);  // call time of its first sample / its picture
  VideoTrack track = VideoTrack::kCamera;
  VideoCodec codec = VideoCodec::kVp8;
  bool voice_active = false;  // Opus: the speaker hint
  int sample_rate_hz = 0;     // PCM
  int channels = 0;           // PCM
  int samples = 0;            // PCM: samples per channel
  size_t payload_bytes = 0;   // Opus, video packet: bytes of `bytes` that are the payload
  std::vector<uint8_t> bytes;  // Opus, PCM, a video packet (followed by decoder padding)
  av::FramePtr frame;          // kAudioFrame / kVideoFrame, made on first use
};

// What happened to a participant's media, for stats and metadata. Written by pushing
// threads and the output thread, read by anyone.
struct ParticipantCounters {
  std::atomic<int64_t> dropped_queue_full{0};
  std::atomic<int64_t> dropped_timestamp{0};    // outside the window, or an RTP jump unconfirmed
  std::atomic<int64_t> rtp_reanchors{0};        // RTP streams placed afresh after a jump
  std::atomic<int64_t> dropped_unusable{0};     // the stages could not take it (bad format, no decoder)
  std::atomic<int64_t> video_decode_errors{0};  // encoded frames the decoder refused
  std::atomic<int64_t> video_dropped_late{0};
  std::atomic<int64_t> keyframes_wanted{0};
};

class ParticipantQueue {
 public:
  struct Limits {
    int capacity = 256;
    MediaTime max_ahead = MediaTime::from_ms(1000);
    MediaTime max_behind = MediaTime::from_ms(1200);
    RtpClockBounds rtp;
  };

  // `problems` (may be null) is told of dropped media and RTP re-anchors.
  ParticipantQueue(std::string participant_id, Limits limits, MediaProblemLog* problems);

  const std::string& participant_id() const { return participant_id_; }
  ParticipantCounters& counters() { return counters_; }
  const ParticipantCounters& counters() const { return counters_; }

  // Queues one item placed at a call time the caller chose: `fill(item)` writes it
  // (kind, at, payload) and returns a Status; not ok: nothing is queued. `now` is the
  // call time of the push. Refused with kQueueFull when full, kDroppedTimestamp when the
  // item lies outside the window.
  template <typename Fill>
  Status push(MediaTime now, Fill&& fill) {
    const std::lock_guard lock(mu_);
    MediaItem* item = take_slot();
    if (item == nullptr) return full();
    if (Status s = fill(*item); !s) {
      give_back(item);
      return s;
    }
    return commit(item, now);
  }

  // The same for media with an RTP timestamp of `stream`: `fill` writes all but the time.
  template <typename Fill>
  Status push_rtp(RtpStream stream, uint32_t rtp_timestamp, MediaTime now, Fill&& fill) {
    const std::lock_guard lock(mu_);
    const std::optional<MediaTime> at = place_rtp(stream, rtp_timestamp, now);
    if (!at) return rtp_jump(stream, rtp_timestamp, now);
    MediaItem* item = take_slot();
    if (item == nullptr) return full();
    if (Status s = fill(*item); !s) {
      give_back(item);
      return s;
    }
    item->at = *at;
    return commit(item, now);
  }

  // A new sender (the participant rejoined): every RTP stream anchors afresh.
  void reset_rtp();

  // ---- output side ----
  // Takes what was pushed since the last call into the waiting list.
  void collect();
  // Call time of the earliest waiting item (after collect()).
  std::optional<MediaTime> earliest_waiting() const;
  // Hands each waiting item placed before `end` (at `end` too when `inclusive`) to
  // `route(MediaItem&)` in call-time order (pushes of the same time in push order),
  // then gives their slots back. `route` must not throw.
  template <typename Route>
  void release(MediaTime end, bool inclusive, Route&& route) {
    size_t released = 0;
    while (released < waiting_.size()) {
      MediaItem& item = pool_[static_cast<size_t>(waiting_[released])];
      if (inclusive ? item.at > end : item.at >= end) break;
      route(item);
      if (item.frame) av_frame_unref(item.frame.get());
      ++released;
    }
    if (released > 0) return_released(released);
  }
  size_t waiting() const { return waiting_.size(); }

 private:
  MediaItem* take_slot();  // mu_ held; nullptr when full
  void give_back(MediaItem* item);  // mu_ held
  Status commit(MediaItem* item, MediaTime now);  // mu_ held
  Status full();  // mu_ held
  std::optional<MediaTime> place_rtp(RtpStream stream, uint32_t rtp_timestamp, MediaTime now);  // mu_ held
  Status rtp_jump(RtpStream stream, uint32_t rtp_timestamp, MediaTime now);  // mu_ held
  void return_released(size_t count);

  const std::string participant_id_;
  const Limits limits_;
  MediaProblemLog* const problems_;
  ParticipantCounters counters_;

  mutable std::mutex mu_;
  std::vector<MediaItem> pool_;  // an item is touched by whoever holds its index
  std::vector<int> free_;        // guarded by mu_
  std::vector<int> pushed_;      // guarded by mu_: pushed, not yet collected
  std::array<RtpClock, 3> rtp_;  // guarded by mu_
  // Output thread only: collected, in call-time order.
  std::vector<int> waiting_;
};

}  // namespace callrec::engine
