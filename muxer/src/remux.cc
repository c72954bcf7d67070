#include "remux.h"

#include <algorithm>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/muxer/recording_writer.h"
#include "chunk_writer.h"
#include "picture_groups.h"
#include "scoped_dictionary.h"

namespace callrec::muxer {

RemuxStats remux_to_faststart(const std::filesystem::path& source, const std::filesystem::path& dest,
                              int64_t audio_priming_samples, std::optional<int64_t> audio_end_samples) {
  const std::string what = source.filename().string();
  std::error_code ec;
  const uint64_t source_bytes = std::filesystem::file_size(source, ec);
  if (ec) throw Error(what + ": cannot read its size: " + ec.message());

  AVFormatContext* raw_in = nullptr;
  check_av(avformat_open_input(&raw_in, source.c_str(), nullptr, nullptr), what + ": opening for remux");
  av::InputFormatPtr input(raw_in);
  check_av(avformat_find_stream_info(input.get(), nullptr), what + ": reading stream info");

  AVFormatContext* raw_out = nullptr;
  check_av(avformat_alloc_output_context2(&raw_out, nullptr, "mp4", nullptr), what + ": creating the MP4 muxer");
  av::OutputFormatPtr output(raw_out);
  std::vector<int64_t> audio_shift(input->nb_streams, 0);
  std::vector<bool> is_video(input->nb_streams, false);
  std::vector<std::optional<int64_t>> audio_end(input->nb_streams);
  // libavformat's MP4 demuxer gives some packets of a fragmented file no duration,
  // though every fragment states them (seen with fragments of several megabytes, a
  // lossless render: every AAC packet, so the copy counted no audio at all). What the
  // chunk writer wrote lasts one period per picture and one AAC frame per packet (the
  // last cut to the chunk's end, below).
  std::vector<int64_t> packet_duration(input->nb_streams, 0);
  for (unsigned i = 0; i < input->nb_streams; ++i) {
    const AVStream* in = input->streams[i];
    AVStream* out = avformat_new_stream(output.get(), nullptr);
    if (out == nullptr) throw Error(what + ": out of memory adding a stream");
    check_av(avcodec_parameters_copy(out->codecpar, in->codecpar), what + ": copying stream parameters");
    out->codecpar->codec_tag = 0;
    out->time_base = in->time_base;
    out->avg_frame_rate = in->avg_frame_rate;
    is_video[i] = in->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    if (is_video[i]) packet_duration[i] = av_rescale_q(1, AVRational{1, kFrameRate}, in->time_base);
    if (in->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
      const AVRational samples{1, in->codecpar->sample_rate};
      packet_duration[i] = av_rescale_q(in->codecpar->frame_size > 0 ? in->codecpar->frame_size : kAacFrameSamples,
                                        samples, in->time_base);
      audio_shift[i] = av_rescale_q(audio_priming_samples, samples, in->time_base);
      if (audio_end_samples) audio_end[i] = av_rescale_q(*audio_end_samples, samples, in->time_base);
    }
  }

  output->url = av_strdup(dest.c_str());  // faststart re-opens the file by its url
  if (output->url == nullptr) throw Error(what + ": out of memory");
  check_av(avio_open(&output->pb, dest.c_str(), AVIO_FLAG_WRITE), dest.string() + ": creating");
  ScopedDictionary options;
  options.set("movflags", "+faststart");
  check_av(avformat_write_header(output.get(), options.address()), dest.string() + ": writing the MP4 header");

  RemuxStats stats;
  std::vector<int64_t> audio_duration(input->nb_streams, 0);
  av::PacketPtr packet = av::make_packet();
  std::optional<int64_t> video_shift;  // the first video packet's pts
  // Video packets are copied a group at a time (picture_groups.h): a file cut inside a
  // group loses the group, not just the pictures before its reference picture, so the
  // copy shows every picture up to where it ends.
  PictureGroups groups;
  std::vector<av::PacketPtr> video_group;
  auto write = [&](AVPacket& p) {
    const unsigned i = static_cast<unsigned>(p.stream_index);
    av_packet_rescale_ts(&p, input->streams[i]->time_base, output->streams[i]->time_base);
    p.pos = -1;
    check_av(av_interleaved_write_frame(output.get(), &p), dest.string() + ": writing a packet");
  };
  while (true) {
    const int ret = av_read_frame(input.get(), packet.get());
    if (ret == AVERROR_EOF) break;
    if (ret < 0) break;  // a truncated fragment: keep what came before
    const bool incomplete = (packet->flags & AV_PKT_FLAG_CORRUPT) != 0 ||
                            (packet->pos >= 0 && static_cast<uint64_t>(packet->pos + packet->size) > source_bytes);
    if (incomplete) break;
    const unsigned i = static_cast<unsigned>(packet->stream_index);
    if (packet->duration <= 0) packet->duration = packet_duration[i];
    if (is_video[i]) {
      if (!video_shift) video_shift = packet->pts;
      packet->pts -= *video_shift;
      packet->dts -= *video_shift;
      const int64_t picture = av_rescale_q(packet->pts, input->streams[i]->time_base, AVRational{1, kFrameRate});
      video_group.push_back(av::make_packet());
      av_packet_move_ref(video_group.back().get(), packet.get());
      if (groups.add(picture)) {
        for (av::PacketPtr& p : video_group) write(*p);
        video_group.clear();
      }
      continue;
    }
    if (packet->pts != AV_NOPTS_VALUE) packet->pts -= audio_shift[i];
    if (packet->dts != AV_NOPTS_VALUE) packet->dts -= audio_shift[i];
    if (audio_end[i] && packet->pts != AV_NOPTS_VALUE) {
      // The fragmented file keeps every packet whole; the end is cut here, where the
      // last sample's duration becomes the edit list's end.
      if (packet->pts >= *audio_end[i]) {
        av_packet_unref(packet.get());
        continue;
      }
      packet->duration = std::min(packet->duration, *audio_end[i] - packet->pts);
    }
    audio_duration[i] += packet->duration;
    write(*packet);
  }
  stats.video_frames = groups.complete();
  check_av(av_write_trailer(output.get()), dest.string() + ": writing the MP4 trailer (moov)");
  check_av(avio_closep(&output->pb), dest.string() + ": closing");
  for (unsigned i = 0; i < input->nb_streams; ++i) {
    if (!is_video[i]) {
      const int64_t samples =
          av_rescale_q(audio_duration[i], input->streams[i]->time_base, AVRational{1, input->streams[i]->codecpar->sample_rate});
      stats.audio_samples = std::max<int64_t>(0, samples - audio_priming_samples);
    }
  }
  stats.size_bytes = std::filesystem::file_size(dest, ec);
  if (ec) throw Error(dest.string() + ": cannot read its size: " + ec.message());
  return stats;
}

}  // namespace callrec::muxer
