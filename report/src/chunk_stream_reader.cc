#include "chunk_stream_reader.h"

#include "callrec/core/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
}

namespace callrec::report {

namespace {

// Opens an MP4 file, and nothing else: no protocol but the file, no other container.
av::InputFormatPtr open_mp4(const std::filesystem::path& mp4) {
  AVDictionary* options = nullptr;
  av_dict_set(&options, "protocol_whitelist", "file", 0);
  av_dict_set(&options, "format_whitelist", "mov,mp4,m4a,3gp,3g2,mj2", 0);
  AVFormatContext* raw = nullptr;
  const int opened = avformat_open_input(&raw, mp4.c_str(), nullptr, &options);
  av_dict_free(&options);
  if (opened < 0) throw Error(mp4.filename().string() + ": cannot open: " + av_error_text(opened));
  return av::InputFormatPtr(raw);
}

}  // namespace

StreamBytes chunk_stream_bytes(const std::filesystem::path& mp4) {
  const av::InputFormatPtr format = open_mp4(mp4);
  StreamBytes out;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    AVStream* st = format->streams[i];
    int64_t bytes = 0;
    for (int e = 0, n = avformat_index_get_entries_count(st); e < n; ++e) bytes += avformat_index_get_entry(st, e)->size;
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) out.video += bytes;
    if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) out.audio += bytes;
  }
  return out;
}

ChunkStreamReader::ChunkStreamReader(const std::filesystem::path& mp4, AVMediaType type)
    : path_(mp4), format_(open_mp4(mp4)), packet_(av::make_packet()), frame_(av::make_frame()) {
  const std::string name = mp4.filename().string();
  const int index = av_find_best_stream(format_.get(), type, -1, -1, nullptr, 0);
  if (index < 0) throw Error(name + ": no " + av_get_media_type_string(type) + " stream");
  for (unsigned i = 0; i < format_->nb_streams; ++i)
    format_->streams[i]->discard = static_cast<int>(i) == index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  stream_ = format_->streams[index];
  const AVCodec* codec = avcodec_find_decoder(stream_->codecpar->codec_id);
  if (!codec) throw Error(name + ": no decoder for " + avcodec_get_name(stream_->codecpar->codec_id));
  decoder_.reset(avcodec_alloc_context3(codec));
  if (!decoder_) throw Error(name + ": out of memory opening the decoder");
  check_av(avcodec_parameters_to_context(decoder_.get(), stream_->codecpar), name + ": decoder parameters");
  decoder_->pkt_timebase = stream_->time_base;
  // One thread: the report decodes a few pictures per chunk, and frame threads would
  // decode ahead pictures it never shows.
  decoder_->thread_count = 1;
  check_av(avcodec_open2(decoder_.get(), codec, nullptr), name + ": opening the decoder");
}

const AVFrame* ChunkStreamReader::next_frame() {
  for (;;) {
    const int got = avcodec_receive_frame(decoder_.get(), frame_.get());
    if (got == 0) {
      ++frames_decoded_;
      return frame_.get();
    }
    if (got == AVERROR_EOF) return nullptr;
    if (got != AVERROR(EAGAIN)) {
      ++packets_damaged_;  // a picture that cannot be decoded: go on with the next
      continue;
    }
    if (draining_) return nullptr;
    const int read = av_read_frame(format_.get(), packet_.get());
    if (read < 0) {
      draining_ = true;
      avcodec_send_packet(decoder_.get(), nullptr);
      continue;
    }
    if (packet_->stream_index == stream_->index) {
      const bool skippable = skip_before_ms_ && packet_->pts != AV_NOPTS_VALUE &&
                             av_rescale_q(packet_->pts, stream_->time_base, AVRational{1, 1000}) < *skip_before_ms_;
      decoder_->skip_frame = skippable ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      if (avcodec_send_packet(decoder_.get(), packet_.get()) < 0) ++packets_damaged_;
    }
    av_packet_unref(packet_.get());
  }
}

void ChunkStreamReader::seek(int64_t stream_ts) {
  check_av(av_seek_frame(format_.get(), stream_->index, stream_ts, AVSEEK_FLAG_BACKWARD),
           path_.filename().string() + ": seeking");
  avcodec_flush_buffers(decoder_.get());
  draining_ = false;
}

std::vector<ChunkStreamReader::Keyframe> ChunkStreamReader::keyframes() const {
  std::vector<Keyframe> out;
  const int n = avformat_index_get_entries_count(stream_);
  // Decode times run ahead of presentation times by the reorder delay.
  const int64_t shift = stream_->start_time != AV_NOPTS_VALUE && n > 0
                            ? stream_->start_time - avformat_index_get_entry(stream_, 0)->timestamp
                            : 0;
  for (int i = 0; i < n; ++i) {
    const AVIndexEntry* e = avformat_index_get_entry(stream_, i);
    if (!(e->flags & AVINDEX_KEYFRAME)) continue;
    // Seeking takes the presentation time: with the decode time, the demuxer (which
    // compares presentation times) lands on the keyframe before.
    out.push_back(Keyframe{av_rescale_q(e->timestamp + shift, stream_->time_base, AVRational{1, 1000}),
                           e->timestamp + shift});
  }
  return out;
}

int64_t ChunkStreamReader::frame_ms(const AVFrame& frame) const {
  const int64_t ts = frame.best_effort_timestamp != AV_NOPTS_VALUE ? frame.best_effort_timestamp : frame.pts;
  return ts == AV_NOPTS_VALUE ? 0 : av_rescale_q(ts, stream_->time_base, AVRational{1, 1000});
}

}  // namespace callrec::report
