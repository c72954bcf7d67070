// MediaInput: one captured media file, demuxed and decoded, its frames placed on the
// call timeline.
//
// Input is untrusted (docs/contract.md; limits in docs/limits.md). The bytes are read
// through callrec's own AVIOContext, from a plain file or a memory buffer, and nothing
// else: the demuxer may not open any other file or URL (its io_open is refused), only
// demuxers for single self-contained files are allowed (no playlists, concat lists,
// image sequences), and stream count, packet size and picture size are capped. Pictures
// larger than the output canvas are scaled down here, before anything queues them, so
// memory per queued picture stays bounded whatever the camera.
//
// Threading: owned and used by one thread (the offline driver's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/core/media_time.h"
#include "decoding_loop.h"
#include "media_limits.h"
#include "picture_memory_budget.h"

extern "C" struct AVStream;
extern "C" struct AVIOContext;
extern "C" struct AVInputFormat;
extern "C" struct AVPacket;

namespace callrec::engine {

// Where a MediaInput's bytes come from (file or memory); defined in media_input.cc.
class ByteSource;

class MediaInput {
 public:
  // Called for each decoded frame with its call time. The frame is only valid during
  // the call (the callee refs or copies what it keeps). A callrec::Error thrown by the
  // callback (e.g. audio the mixer cannot convert) ends that stream of this file only;
  // it is recorded in problems().
  using FrameCallback = std::function<void(const AVFrame&, MediaTime call_time)>;

  // Opens and probes `path`. `label` names the file in messages. Throws callrec::Error
  // when the file cannot be opened or holds no decodable audio or video stream.
  // `max_index_entries`: how far the demuxer's index may grow before the file is opened
  // again (Matroska/WebM; see MediaLimits::kMaxDemuxerIndexEntries).
  MediaInput(const std::filesystem::path& path, std::string label, int64_t offset_us,
             int64_t max_index_entries = MediaLimits::kMaxDemuxerIndexEntries);
  // The same from bytes held in memory (fuzzing, the embedding API). `bytes` must
  // outlive the MediaInput. `format_hint` is a file name whose extension helps probing.
  static MediaInput from_memory(std::span<const uint8_t> bytes, std::string label, int64_t offset_us,
                                const std::string& format_hint = "");
  ~MediaInput();
  MediaInput(MediaInput&&) noexcept;
  MediaInput& operator=(MediaInput&&) noexcept;

  bool has_audio() const { return has_audio_; }
  bool has_video() const { return has_video_; }
  int64_t offset_us() const { return offset_us_; }
  // offset + container duration, when the container states one (for progress only).
  std::optional<int64_t> probed_end_us() const { return probed_end_us_; }
  // For progress in files that state no duration (a live WebM capture): the file's size
  // and how far into it reading has come (the end of the last packet read).
  int64_t size_bytes() const { return size_bytes_; }
  int64_t bytes_read() const { return bytes_read_; }

  // Pictures that need no decoding (a VP8 camera sending temporal layers, as browsers
  // do with simulcast: half its pictures are referred to by none). Each VP8 picture then
  // waits for the next one's packet; when `may_show(before_us, pts_us, after_us)` (the
  // call times of the picture and of its neighbours) says no output instant will show
  // it, the decoder leaves it undecoded if nothing refers to it (AVDISCARD_NONREF), and
  // `skipped(call_time)` is told instead of on_video. The pictures shown are the same
  // either way (but next to a packet the decoder then refuses, whose picture was taken
  // as the neighbour); decoding costs less.
  struct PictureFilter {
    std::function<bool(int64_t before_us, int64_t pts_us, int64_t after_us)> may_show;
    std::function<void(MediaTime call_time)> skipped;
  };
  void set_picture_filter(PictureFilter filter) { picture_filter_ = std::move(filter); }
  // Pictures left undecoded so far.
  int64_t pictures_not_decoded() const { return pictures_not_decoded_; }

  // Reads and decodes one packet, handing frames to the callbacks. Returns false once
  // the file is exhausted and the decoders are drained. Damage in the file (corrupt
  // packets, read errors) is survived: it is recorded in problems() and decoding goes on
  // or ends there.
  bool step(const FrameCallback& on_audio, const FrameCallback& on_video);

  bool audio_done() const { return !has_audio() || audio_.done; }
  bool video_done() const { return !has_video() || video_.done; }
  bool done() const { return eof_; }
  // Call time just past the last audio / video frame decoded so far (offset before any).
  int64_t audio_until_us() const { return audio_.until_us; }
  int64_t video_until_us() const { return video_.until_us; }
  // Call time of the last video frame decoded (nullopt before the first).
  std::optional<int64_t> last_video_frame_us() const { return video_.last_frame_us; }
  // Call time just past the last media decoded (valid once done()).
  int64_t end_us() const;

  // Before the first step(): lets go of the file (demuxer, decoders, buffers) while
  // keeping what the accessors report; resume() opens it again. A file-backed input
  // only. So a call of many files one after another keeps only those in use open.
  void suspend();
  bool suspended() const { return suspended_; }
  // Opens a suspended input again. When the file no longer opens the same way (changed
  // or removed since), the input ends here, with a problem saying why; never throws.
  void resume();

  // Once done(): frees the demuxer, the decoders and their picture pools (pictures
  // still referenced elsewhere stay valid). What the accessors report is kept. A call
  // with many files one after another (a camera reconnecting) then holds only the
  // files in use, not every file it has been through.
  void close();

  // Entries the demuxer's index holds now, and how many times the file was opened again
  // to let them go.
  int64_t demuxer_index_entries() const;
  int reopens() const { return reopens_; }

  const std::vector<std::string>& problems() const { return problems_; }
  // Call time of each problem: how far the file had been decoded when it was found.
  const std::vector<int64_t>& problem_call_us() const { return problem_at_us_; }
  const std::string& label() const { return label_; }

 private:
  struct Stream {
    int index = -1;
    AVStream* stream = nullptr;  // owned by format_
    std::shared_ptr<PictureMemoryBudget> picture_budget;  // video: outlives `decoder`
    av::CodecContextPtr decoder;
    bool done = false;
    int64_t until_us = 0;
    std::optional<int64_t> last_frame_us;
    int64_t frame_duration_us = 0;
    int decode_errors = 0;
  };
  struct IoDeleter {
    void operator()(AVIOContext* io) const;
  };

  MediaInput(std::unique_ptr<ByteSource> source, const std::string& url, std::string label, int64_t offset_us);
  void open(const std::string& url);
  std::unique_ptr<AVIOContext, IoDeleter> make_io(ByteSource& source) const;
  av::InputFormatPtr open_format(AVIOContext& io, const std::string& url, const AVInputFormat* format) const;
  int read_next_packet();
  void reopen_at(const AVPacket& next);
  void close_file();
  void open_decoder(Stream& s, int media_type);
  DecodeResult decode(Stream& s, const AVPacket* packet, const FrameCallback& on_frame);
  // The call time a packet's picture will have, when it can be told before decoding.
  std::optional<int64_t> packet_call_us(const Stream& s, const AVPacket& packet) const;
  // Takes the video packet just read: decodes the one held before it (or not, see
  // PictureFilter) and holds this one.
  void hold_video(const FrameCallback& on_video);
  void decode_held_video(const FrameCallback& on_video, std::optional<int64_t> after_us);
  // Returns the frame to deliver: `frame_` itself, or a copy scaled to the canvas box.
  const AVFrame* fit_picture();
  bool frame_acceptable(const Stream& s, std::string* why) const;
  bool ogg_cut();
  void end_stream(Stream& s, const std::string& why);
  void problem(std::string text);

  std::string label_;
  int64_t offset_us_;
  std::filesystem::path path_;  // of a file-backed input, for resume()
  bool suspended_ = false;
  bool has_audio_ = false;
  bool has_video_ = false;
  int64_t file_start_us_ = 0;
  bool first_frame_seen_ = false;
  std::optional<int64_t> probed_end_us_;
  int64_t size_bytes_ = 0;
  int64_t bytes_read_ = 0;
  // Declared before format_: the demuxer reads through io_, so it is closed first.
  std::unique_ptr<ByteSource> source_;
  std::unique_ptr<AVIOContext, IoDeleter> io_;
  av::InputFormatPtr format_;
  Stream audio_;
  Stream video_;
  av::PacketPtr packet_;
  av::FramePtr frame_;
  av::FramePtr scaled_;  // reused for pictures scaled down to the canvas box
  av::SwsPtr scaler_;
  int oversized_packets_ = 0;
  PictureFilter picture_filter_;
  av::PacketPtr held_video_;                  // with data: a VP8 packet waiting for the next
  std::optional<int64_t> before_held_us_;     // call time of the picture before it
  int64_t pictures_not_decoded_ = 0;
  bool eof_ = false;
  // Bounding the demuxer's index (read_next_packet()).
  int64_t max_index_entries_ = MediaLimits::kMaxDemuxerIndexEntries;
  int64_t index_entries_at_open_ = 0;
  bool may_reopen_ = false;       // a Matroska/WebM file read from its path
  int reopens_ = 0;
  std::vector<std::string> problems_;
  std::vector<int64_t> problem_at_us_;  // beside problems_
};

}  // namespace callrec::engine
