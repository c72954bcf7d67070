#include "chunk_writer.h"

#include <algorithm>
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

ChunkWriter::ChunkWriter(std::filesystem::path final_path, const EncoderSettings& settings,
                         uint64_t max_bytes)
    : final_path_(std::move(final_path)),
      temp_path_(final_path_.parent_path() / ("." + final_path_.filename().string() + ".part")),
      what_(final_path_.filename().string()),
      max_bytes_(max_bytes),
      video_(settings, what_),
      audio_(settings, what_),
      packet_(av::make_packet()) {
  AVFormatContext* raw = nullptr;
  check_av(avformat_alloc_output_context2(&raw, nullptr, "mp4", nullptr),
           what_ + ": creating the MP4 muxer");
  format_.reset(raw);

  for (const AVCodecContext* encoder : {&video_.context(), &audio_.context()}) {
    AVStream* stream = avformat_new_stream(format_.get(), nullptr);
    if (stream == nullptr) throw Error(what_ + ": out of memory adding a stream");
    check_av(avcodec_parameters_from_context(stream->codecpar, encoder),
             what_ + ": copying encoder parameters to the stream");
    stream->time_base = encoder->time_base;
  }
  format_->streams[kVideoStream]->avg_frame_rate = AVRational{kFrameRate, 1};

  check_av(avio_open(&format_->pb, temp_path_.c_str(), AVIO_FLAG_WRITE),
           what_ + ": creating " + temp_path_.string());
  // While written, the chunk is a fragmented MP4 (an empty moov up front, then a
  // moof+mdat per second), flushed to the OS after every period: a crash loses at most
  // the fragment in progress, and recover_recording() can remux the rest.
  ScopedDictionary options;
  options.set("movflags", "+empty_moov+default_base_moof");
  options.set("frag_duration", std::to_string(kFragmentDurationUs));
  check_av(avformat_write_header(format_.get(), options.address()), what_ + ": writing the MP4 header");
}

ChunkWriter::~ChunkWriter() = default;

int64_t ChunkWriter::audio_priming_samples() const { return audio_.context().initial_padding; }

std::filesystem::path ChunkWriter::remux_temp_path() const {
  return final_path_.parent_path() / ("." + final_path_.filename().string() + ".tmp");
}

bool ChunkWriter::try_write_period(const AVFrame& canvas, std::span<const float> audio) {
  video_.send(canvas);
  held_video_count_ = 0;
  while (true) {
    if (held_video_count_ == held_video_.size()) held_video_.push_back(av::make_packet());
    if (video_.receive(*held_video_[held_video_count_]) != ReceiveStatus::kPacket) break;
    ++held_video_count_;
  }

  uint64_t held_bytes = 0;
  for (size_t i = 0; i < held_video_count_; ++i) {
    held_bytes += static_cast<uint64_t>(held_video_[i]->size);
    largest_video_packet_bytes_ = std::max<int64_t>(largest_video_packet_bytes_, held_video_[i]->size);
  }
  // Frames still inside the encoder (none with zerolatency) are bounded by the largest
  // packet seen, which is the first keyframe at least.
  const int64_t video_in_encoder =
      video_.frames_sent() - video_packets_ - static_cast<int64_t>(held_video_count_);
  const uint64_t video_in_encoder_bytes =
      static_cast<uint64_t>(video_in_encoder * largest_video_packet_bytes_);
  const int64_t audio_pending_packets = audio_.max_pending_packets(static_cast<int64_t>(audio.size()));
  const uint64_t audio_pending_bytes = static_cast<uint64_t>(audio_pending_packets * kMaxAacFrameBytes);

  const uint64_t projected =
      payload_bytes_ + held_bytes + video_in_encoder_bytes + audio_pending_bytes +
      max_moov_bytes(video_.frames_sent(), audio_packets_ + audio_pending_packets, max_bytes_);
  if (projected > max_bytes_) {
    if (video_frames_written_ == 0) {
      throw Error(what_ + ": maxChunkBytes " + std::to_string(max_bytes_) +
                  " is too small to hold even one 125 ms period (needs about " +
                  std::to_string(projected) + " bytes)");
    }
    return false;
  }

  for (size_t i = 0; i < held_video_count_; ++i) write_packet(*held_video_[i], kVideoStream, video_.context());
  held_video_count_ = 0;
  audio_.send(audio);
  drain_audio();
  ++video_frames_written_;
  // Hands the fragments completed so far to the OS (survives a process crash).
  avio_flush(format_->pb);
  if (format_->pb->error < 0) check_av(format_->pb->error, what_ + ": writing " + temp_path_.string());
  return true;
}

void ChunkWriter::drain_audio() {
  while (audio_.receive(*packet_) == ReceiveStatus::kPacket) write_packet(*packet_, kAudioStream, audio_.context());
}

void ChunkWriter::drain_video() {
  while (video_.receive(*packet_) == ReceiveStatus::kPacket) write_packet(*packet_, kVideoStream, video_.context());
}

void ChunkWriter::write_packet(AVPacket& packet, int stream_index, const AVCodecContext& encoder) {
  payload_bytes_ += static_cast<uint64_t>(packet.size);
  if (stream_index == kVideoStream) {
    ++video_packets_;
    // Every frame lasts one period; without it the muxer guesses the last sample's
    // duration and the stream's frame rate comes out below 8 fps.
    packet.duration = 1;
  } else {
    ++audio_packets_;
    // The fragmented file cannot carry the AAC priming in an edit list, and negative
    // timestamps would make the muxer shift the video instead; so audio starts at 0
    // here and remux_to_faststart() moves it back by the same amount.
    packet.pts += encoder.initial_padding;
    packet.dts += encoder.initial_padding;
  }
  packet.stream_index = stream_index;
  av_packet_rescale_ts(&packet, encoder.time_base, format_->streams[stream_index]->time_base);
  // Takes the packet's reference (leaves it blank) whether or not it succeeds.
  check_av(av_interleaved_write_frame(format_.get(), &packet), what_ + ": writing a packet");
}

ClosedChunk ChunkWriter::close() {
  if (closed_) throw Error(what_ + ": chunk closed twice");
  closed_ = true;
  audio_.flush();
  drain_audio();
  video_.flush();
  drain_video();
  check_av(av_write_trailer(format_.get()), what_ + ": writing the fragmented MP4 trailer");
  check_av(avio_closep(&format_->pb), what_ + ": closing " + temp_path_.string());
  format_.reset();

  const std::filesystem::path remuxed = remux_temp_path();
  const RemuxStats stats = remux_to_faststart(temp_path_, remuxed, audio_.context().initial_padding);
  std::error_code ec;
  if (stats.size_bytes > max_bytes_) {
    // The bound in try_write_period is meant to make this impossible; refuse to
    // present the file.
    throw Error(what_ + ": internal error: chunk is " + std::to_string(stats.size_bytes) +
                " bytes, over maxChunkBytes " + std::to_string(max_bytes_));
  }
  if (stats.video_frames != video_frames_written_) {
    throw Error(what_ + ": internal error: remux kept " + std::to_string(stats.video_frames) + " of " +
                std::to_string(video_frames_written_) + " video frames");
  }
  std::filesystem::rename(remuxed, final_path_, ec);
  if (ec) throw Error(what_ + ": cannot rename " + remuxed.string() + " into place: " + ec.message());
  std::filesystem::remove(temp_path_, ec);
  const uint64_t size = stats.size_bytes;
  return ClosedChunk{final_path_, size, video_frames_written_, audio_.samples_sent()};
}

}  // namespace callrec::muxer
