// MediaInput: one captured media file, demuxed and decoded, its frames placed on the
// call timeline.
//
// Threading: owned and used by one thread (the offline driver's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "callrec/core/av.h"
#include "callrec/core/media_time.h"

extern "C" struct AVStream;

namespace callrec::engine {

class MediaInput {
 public:
  // Called for each decoded frame with its call time. The frame is only valid during
  // the call (the callee refs or copies what it keeps).
  using FrameCallback = std::function<void(const AVFrame&, MediaTime call_time)>;

  // Opens and probes `path`. `label` names the file in messages. Throws callrec::Error
  // when the file cannot be opened or holds no decodable audio or video stream.
  MediaInput(const std::filesystem::path& path, std::string label, int64_t offset_us);
  ~MediaInput();
  MediaInput(MediaInput&&) noexcept;
  MediaInput& operator=(MediaInput&&) noexcept;

  bool has_audio() const { return audio_.decoder != nullptr; }
  bool has_video() const { return video_.decoder != nullptr; }
  int64_t offset_us() const { return offset_us_; }
  // offset + container duration, when the container states one (for progress only).
  std::optional<int64_t> probed_end_us() const { return probed_end_us_; }

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

  const std::vector<std::string>& problems() const { return problems_; }
  const std::string& label() const { return label_; }

 private:
  struct Stream {
    int index = -1;
    AVStream* stream = nullptr;  // owned by format_
    av::CodecContextPtr decoder;
    bool done = false;
    int64_t until_us = 0;
    std::optional<int64_t> last_frame_us;
    int64_t frame_duration_us = 0;
    int decode_errors = 0;
  };

  void open_decoder(Stream& s, int media_type);
  void decode(Stream& s, const AVPacket* packet, const FrameCallback& on_frame);
  void problem(std::string text);

  std::string label_;
  int64_t offset_us_;
  int64_t file_start_us_ = 0;
  std::optional<int64_t> probed_end_us_;
  av::InputFormatPtr format_;
  Stream audio_;
  Stream video_;
  av::PacketPtr packet_;
  av::FramePtr frame_;
  bool eof_ = false;
  std::vector<std::string> problems_;
};

}  // namespace callrec::engine
