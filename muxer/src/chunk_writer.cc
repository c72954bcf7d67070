#include "chunk_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include "callrec/core/error.h"
#include "remux.h"
#include "scoped_dictionary.h"

namespace callrec::muxer {
namespace {

constexpr int kVideoStream = 0;
constexpr int kAudioStream = 1;
constexpr int64_t kFragmentDurationUs = 1'000'000;

// Everything in the final (remuxed, faststart) file that is not sample data or
// per-sample tables: ftyp, free, the mdat header (64-bit form) and the fixed part of moov (mvhd, two traks
// with tkhd/edts/mdhd/hdlr/vmhd|smhd/dinf/stsd with avcC and esds, udta). Measured at
// about 1.3 kB with FFmpeg 5.1 (see the MoovBoundHolds test); doubled for SPS/PPS
// variations and future muxer versions.
constexpr uint64_t kFixedContainerBytes = 3 * 1024;

// Per-sample table bytes, worst case (every sample its own run and its own chunk):
// video stsz 4 + stts 8 + ctts 8 + stss 4 + stsc 12 + sdtp 1; audio stsz 4 + stts 8 +
// stsc 12 + sbgp 8; both plus the chunk offset (stco 4, or co64 8 above 4 GiB).
constexpr uint64_t kVideoSampleTableBytes = 4 + 8 + 8 + 4 + 12 + 1;
constexpr uint64_t kAudioSampleTableBytes = 4 + 8 + 12 + 8;

}  // namespace

uint64_t max_moov_bytes(int64_t video_samples, int64_t audio_samples, uint64_t max_file_bytes) {
  const uint64_t offset_bytes = max_file_bytes > UINT32_MAX ? 8 : 4;
  return kFixedContainerBytes +
         static_cast<uint64_t>(video_samples) * (kVideoSampleTableBytes + offset_bytes) +
         static_cast<uint64_t>(audio_samples) * (kAudioSampleTableBytes + offset_bytes);
}

int64_t nearest_audio_frame_boundary(int64_t sample) {
  const int64_t below = (sample >= 0 ? sample : sample - kAacFrameSamples + 1) / kAacFrameSamples * kAacFrameSamples;
  return sample - below < kAacFrameSamples / 2 ? below : below + kAacFrameSamples;
}

int64_t first_audio_packet_pts(int64_t start_sample) {
  // Floor division: the packet holding start_sample begins at a multiple of 1024.
  const int64_t holding = (start_sample >= 0 ? start_sample : start_sample - kAacFrameSamples + 1) /
                          kAacFrameSamples * kAacFrameSamples;
  return holding - kAacFrameSamples;
}

ChunkWriter::ChunkWriter(std::filesystem::path final_path, const EncoderSettings& settings,
                         uint64_t max_bytes, const AVCodecContext& audio_encoder, int64_t start_sample,
                         int64_t periods_start_sample)
    : final_path_(std::move(final_path)),
      temp_path_(final_path_.parent_path() / ("." + final_path_.filename().string() + ".part")),
      what_(final_path_.filename().string()),
      max_bytes_(max_bytes),
      start_sample_(start_sample),
      periods_start_sample_(periods_start_sample),
      first_audio_pts_(first_audio_packet_pts(start_sample)),
      audio_written_until_(start_sample),
      video_(settings, max_bytes, what_),
      packet_(av::make_packet()) {
  AVFormatContext* raw = nullptr;
  check_av(avformat_alloc_output_context2(&raw, nullptr, "mp4", nullptr),
           what_ + ": creating the MP4 muxer");
  format_.reset(raw);

  for (const AVCodecContext* encoder : {static_cast<const AVCodecContext*>(&video_.context()), &audio_encoder}) {
    AVStream* stream = avformat_new_stream(format_.get(), nullptr);
    if (stream == nullptr) throw Error(what_ + ": out of memory adding a stream");
    check_av(avcodec_parameters_from_context(stream->codecpar, encoder),
             what_ + ": copying encoder parameters to the stream");
    stream->time_base = encoder->time_base;
  }
  format_->streams[kVideoStream]->avg_frame_rate = AVRational{kFrameRate, 1};

  check_av(avio_open(&format_->pb, temp_path_.c_str(), AVIO_FLAG_WRITE),
           what_ + ": creating " + temp_path_.string());
  sync_fd_.reset(::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (sync_fd_.get() < 0) {
    throw Error(what_ + ": cannot open " + temp_path_.string() + " to sync it: " + std::strerror(errno));
  }
  // While written, the chunk is a fragmented MP4 (an empty moov up front, then a
  // moof+mdat per second), handed to the OS after every period and synced to disk at
  // every fragment: a crash loses at most the fragment in progress, and
  // recover_recording() can remux the rest.
  ScopedDictionary options;
  options.set("movflags", "+empty_moov+default_base_moof");
  options.set("frag_duration", std::to_string(kFragmentDurationUs));
  check_av(avformat_write_header(format_.get(), options.address()), what_ + ": writing the MP4 header");
  flush_fragments();
}

ChunkWriter::~ChunkWriter() = default;

std::filesystem::path ChunkWriter::remux_temp_path() const {
  return final_path_.parent_path() / ("." + final_path_.filename().string() + ".tmp");
}

int64_t ChunkWriter::audio_packets_until(int64_t end_sample) const {
  if (end_sample <= start_sample_) return 0;
  return (end_sample - first_audio_pts_ + kAacFrameSamples - 1) / kAacFrameSamples;
}

bool ChunkWriter::try_write_pictures(std::span<av::PacketPtr> group, int64_t audio_samples) {
  if (end_sample_) throw Error(what_ + ": internal error: period after the chunk's end");
  const auto pictures = static_cast<int64_t>(group.size());
  uint64_t video_bytes = 0;
  for (const av::PacketPtr& packet : group) video_bytes += static_cast<uint64_t>(packet->size);
  // The audio packets this chunk will hold if it ends after this group are known
  // (one per 1024 samples from the priming packet to the AAC frame boundary nearest the
  // group's end, or its end itself if the recording ends there: counted to the frame
  // boundary above); their size is not, so each not yet written counts at the AAC-LC
  // maximum.
  const int64_t periods_end = periods_end_sample() + audio_samples;
  const int64_t audio_total_packets = audio_packets_until(std::max(periods_end, nearest_audio_frame_boundary(periods_end)));
  const int64_t audio_pending_packets = std::max<int64_t>(0, audio_total_packets - audio_packets_);
  const uint64_t audio_pending_bytes = static_cast<uint64_t>(audio_pending_packets * kMaxAacFrameBytes);
  // Pictures still inside the encoder need no reserve: each is decided when its group
  // comes out, and one that does not fit is re-encoded in the next chunk.
  const uint64_t projected = payload_bytes_ + video_bytes + audio_pending_bytes +
                             max_moov_bytes(video_frames_written_ + pictures, audio_total_packets, max_bytes_);
  if (projected > max_bytes_) {
    if (video_frames_written_ == 0) {
      throw Error(what_ + ": maxChunkBytes " + std::to_string(max_bytes_) + " is too small to hold even " +
                  (pictures == 1 ? std::string("one 125 ms period") : std::to_string(pictures) + " periods") +
                  " (needs about " + std::to_string(projected) + " bytes)");
    }
    return false;
  }
  // The chunk's first packet (its first picture, pts 0) has the earliest decode time.
  if (video_frames_written_ == 0) video_shift_ = -group.front()->dts;
  for (av::PacketPtr& packet : group) {
    packet->pts += video_shift_;
    packet->dts += video_shift_;
    if (packet->dts < 0 || packet->dts > packet->pts) {
      throw Error(what_ + ": internal error: H.264 packet with pts " + std::to_string(packet->pts) + " and dts " +
                  std::to_string(packet->dts) + " (decode times start " + std::to_string(video_shift_) +
                  " pictures early)");
    }
    write_packet(*packet, kVideoStream);
  }
  audio_samples_sent_ += audio_samples;
  video_frames_written_ += pictures;
  return true;
}

void ChunkWriter::end_at(int64_t end_sample) {
  end_sample_ = end_sample;
  // The video is complete: put it on disk now rather than at close, which waits for
  // the last audio packets; only those few packets are then at risk in a crash.
  check_av(av_interleaved_write_frame(format_.get(), nullptr), what_ + ": writing " + temp_path_.string());
  check_av(av_write_frame(format_.get(), nullptr), what_ + ": writing " + temp_path_.string());
  flush_fragments();
}

bool ChunkWriter::audio_complete() const { return end_sample_ && audio_written_until_ >= *end_sample_; }

void ChunkWriter::write_audio_packet(const AVPacket& packet) {
  if (packet.pts < first_audio_pts_ || (end_sample_ && packet.pts >= *end_sample_)) return;
  check_av(av_packet_ref(packet_.get(), &packet), what_ + ": referencing an audio packet");
  // The last packet ends at the chunk's end: its shortened duration is what makes the
  // edit list end there.
  if (end_sample_) packet_->duration = std::min<int64_t>(packet_->duration, *end_sample_ - packet_->pts);
  audio_written_until_ = std::max(audio_written_until_, packet_->pts + packet_->duration);
  // The fragmented file cannot carry the priming in an edit list, and negative
  // timestamps would make the muxer shift the video instead; so audio starts at 0
  // here and remux_to_faststart() moves it back by audio_priming_samples().
  packet_->pts -= first_audio_pts_;
  packet_->dts -= first_audio_pts_;
  ++audio_packets_;
  write_packet(*packet_, kAudioStream);
}

void ChunkWriter::flush_fragments() {
  avio_flush(format_->pb);
  if (format_->pb->error < 0) check_av(format_->pb->error, what_ + ": writing " + temp_path_.string());
  // The muxer writes only whole fragments (and the header), so the file grows once per
  // fragment: sync then, not after every period.
  const uint64_t written = static_cast<uint64_t>(avio_tell(format_->pb));
  if (written == synced_bytes_) return;
  if (::fdatasync(sync_fd_.get()) != 0) {
    throw Error(what_ + ": syncing " + temp_path_.string() + " to disk: " + std::strerror(errno));
  }
  synced_bytes_ = written;
}

void ChunkWriter::write_packet(AVPacket& packet, int stream_index) {
  payload_bytes_ += static_cast<uint64_t>(packet.size);
  if (stream_index == kVideoStream) {
    video_bytes_ += static_cast<uint64_t>(packet.size);
    // Every frame lasts one period; without it the muxer guesses the last sample's
    // duration and the stream's frame rate comes out below 8 fps.
    packet.duration = 1;
    // The encoder's time base, without touching the encoder (its worker may be using it).
    av_packet_rescale_ts(&packet, AVRational{kVideoTimeBase.num, kVideoTimeBase.den},
                         format_->streams[stream_index]->time_base);
  } else {
    av_packet_rescale_ts(&packet, AVRational{1, kSampleRateHz}, format_->streams[stream_index]->time_base);
  }
  packet.stream_index = stream_index;
  // Takes the packet's reference (leaves it blank) whether or not it succeeds.
  check_av(av_interleaved_write_frame(format_.get(), &packet), what_ + ": writing " + temp_path_.string());
}

ClosedChunk ChunkWriter::close() {
  if (closed_) throw Error(what_ + ": chunk closed twice");
  if (!audio_complete()) throw Error(what_ + ": internal error: closed before its audio was complete");
  closed_ = true;
  check_av(av_write_trailer(format_.get()), what_ + ": writing the fragmented MP4 trailer");
  check_av(avio_closep(&format_->pb), what_ + ": closing " + temp_path_.string());
  format_.reset();

  const std::filesystem::path remuxed = remux_temp_path();
  sync_fd_.reset();
  const RemuxStats stats = remux_to_faststart(temp_path_, remuxed, audio_priming_samples(), *end_sample_ - start_sample_);
  std::error_code ec;
  if (stats.size_bytes > max_bytes_) {
    // The bound in try_write_period is meant to make this impossible; refuse to
    // present the file.
    throw Error(what_ + ": internal error: chunk is " + std::to_string(stats.size_bytes) +
                " bytes, over maxChunkBytes " + std::to_string(max_bytes_));
  }
  if (stats.audio_samples != *end_sample_ - start_sample_) {
    throw Error(what_ + ": internal error: remux kept " + std::to_string(stats.audio_samples) + " of " +
                std::to_string(*end_sample_ - start_sample_) + " audio samples");
  }
  if (stats.video_frames != video_frames_written_) {
    throw Error(what_ + ": internal error: remux kept " + std::to_string(stats.video_frames) + " of " +
                std::to_string(video_frames_written_) + " video frames");
  }
  std::filesystem::rename(remuxed, final_path_, ec);
  if (ec) throw Error(what_ + ": cannot rename " + remuxed.string() + " into place: " + ec.message());
  std::filesystem::remove(temp_path_, ec);
  const uint64_t size = stats.size_bytes;
  return ClosedChunk{final_path_, size, video_frames_written_, stats.audio_samples, video_bytes_};
}

}  // namespace callrec::muxer
