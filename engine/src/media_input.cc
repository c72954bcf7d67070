#include "media_input.h"

#include <algorithm>

#include "callrec/core/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace callrec::engine {
namespace {
constexpr AVRational kUs{1, 1'000'000};
constexpr int kMaxReportedDecodeErrors = 5;
}  // namespace

MediaInput::MediaInput(const std::filesystem::path& path, std::string label, int64_t offset_us)
    : label_(std::move(label)), offset_us_(offset_us) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(label_ + ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(label_ + ": not a regular file");
  AVFormatContext* raw = nullptr;
  // Only plain files: no network protocols or nested URLs from a manifest.
  AVDictionary* options = nullptr;
  av_dict_set(&options, "protocol_whitelist", "file", 0);
  const int open_ret = avformat_open_input(&raw, path.c_str(), nullptr, &options);
  av_dict_free(&options);
  if (open_ret < 0) throw Error(label_ + ": not a media file FFmpeg can read (" + av_error_text(open_ret) + ")");
  format_.reset(raw);
  const int info_ret = avformat_find_stream_info(format_.get(), nullptr);
  if (info_ret < 0) throw Error(label_ + ": cannot read stream information (" + av_error_text(info_ret) + ")");

  audio_.index = av_find_best_stream(format_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  video_.index = av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (audio_.index >= 0) open_decoder(audio_, AVMEDIA_TYPE_AUDIO);
  if (video_.index >= 0) open_decoder(video_, AVMEDIA_TYPE_VIDEO);
  if (!has_audio() && !has_video()) throw Error(label_ + ": no decodable audio or video stream");

  // The file's first media lands at offset: timestamps count from the file's start.
  if (format_->start_time != AV_NOPTS_VALUE) file_start_us_ = format_->start_time;
  audio_.until_us = video_.until_us = offset_us_;
  if (format_->duration > 0) probed_end_us_ = offset_us_ + format_->duration;
  packet_ = av::make_packet();
  frame_ = av::make_frame();
}

MediaInput::~MediaInput() = default;
MediaInput::MediaInput(MediaInput&&) noexcept = default;
MediaInput& MediaInput::operator=(MediaInput&&) noexcept = default;

void MediaInput::open_decoder(Stream& s, int media_type) {
  s.stream = format_->streams[s.index];
  const AVCodec* codec = avcodec_find_decoder(s.stream->codecpar->codec_id);
  const char* kind = media_type == AVMEDIA_TYPE_AUDIO ? "audio" : "video";
  if (codec == nullptr) {
    problem(std::string(kind) + " codec " + avcodec_get_name(s.stream->codecpar->codec_id) +
            " is not supported; stream ignored");
    s.index = -1;
    return;
  }
  av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw Error(label_ + ": out of memory opening the " + kind + " decoder");
  check_av(avcodec_parameters_to_context(ctx.get(), s.stream->codecpar), label_ + ": " + kind + " decoder parameters");
  ctx->pkt_timebase = s.stream->time_base;
  // Many participants decode at once: one thread each keeps the cores for the encoder.
  ctx->thread_count = 1;
  const int ret = avcodec_open2(ctx.get(), codec, nullptr);
  if (ret < 0) {
    problem(std::string("cannot open the ") + kind + " decoder (" + av_error_text(ret) + "); stream ignored");
    s.index = -1;
    return;
  }
  if (media_type == AVMEDIA_TYPE_VIDEO) {
    const AVRational rate = av_guess_frame_rate(format_.get(), s.stream, nullptr);
    s.frame_duration_us = rate.num > 0 ? av_rescale_q(1, av_inv_q(rate), kUs) : 40'000;
  }
  s.decoder = std::move(ctx);
}

void MediaInput::problem(std::string text) { problems_.push_back(label_ + ": " + std::move(text)); }

bool MediaInput::step(const FrameCallback& on_audio, const FrameCallback& on_video) {
  if (eof_) return false;
  const int ret = av_read_frame(format_.get(), packet_.get());
  if (ret < 0) {
    if (ret != AVERROR_EOF) problem("read error, media ends here (" + av_error_text(ret) + ")");
    if (has_audio()) decode(audio_, nullptr, on_audio);
    if (has_video()) decode(video_, nullptr, on_video);
    audio_.done = video_.done = true;
    eof_ = true;
    return false;
  }
  if (packet_->stream_index == audio_.index && has_audio() && !audio_.done) {
    decode(audio_, packet_.get(), on_audio);
  } else if (packet_->stream_index == video_.index && has_video() && !video_.done) {
    decode(video_, packet_.get(), on_video);
  }
  av_packet_unref(packet_.get());
  return true;
}

void MediaInput::decode(Stream& s, const AVPacket* packet, const FrameCallback& on_frame) {
  int ret = avcodec_send_packet(s.decoder.get(), packet);
  if (ret < 0 && ret != AVERROR_EOF) {
    // A corrupt packet: skip it, the decoder conceals what it can from the next ones.
    if (++s.decode_errors <= kMaxReportedDecodeErrors)
      problem("corrupt packet skipped (" + av_error_text(ret) + ")");
    return;
  }
  while (true) {
    ret = avcodec_receive_frame(s.decoder.get(), frame_.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
    if (ret < 0) {
      if (++s.decode_errors <= kMaxReportedDecodeErrors)
        problem("decoding error (" + av_error_text(ret) + ")");
      return;
    }
    const bool audio = &s == &audio_;
    const int64_t ts = frame_->best_effort_timestamp;
    int64_t call_us = ts == AV_NOPTS_VALUE ? s.until_us
                                           : offset_us_ + av_rescale_q(ts, s.stream->time_base, kUs) - file_start_us_;
    int64_t duration_us = 0;
    if (audio) {
      duration_us = frame_->sample_rate > 0 ? av_rescale(frame_->nb_samples, 1'000'000, frame_->sample_rate) : 0;
    } else {
      duration_us = frame_->pkt_duration > 0 ? av_rescale_q(frame_->pkt_duration, s.stream->time_base, kUs)
                                             : s.frame_duration_us;
      // Frames must reach the compositor in order; a timestamp going back is clamped.
      if (s.last_frame_us && call_us <= *s.last_frame_us) call_us = *s.last_frame_us + 1;
      s.last_frame_us = call_us;
    }
    s.until_us = std::max(s.until_us, call_us + duration_us);
    on_frame(*frame_, MediaTime::from_us(call_us));
    av_frame_unref(frame_.get());
  }
}

int64_t MediaInput::end_us() const {
  int64_t end = offset_us_;
  if (has_audio()) end = std::max(end, audio_.until_us);
  if (has_video()) end = std::max(end, video_.until_us);
  return end;
}

}  // namespace callrec::engine
