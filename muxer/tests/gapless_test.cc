// Chunks join without a seam, however they are played:
// - decoded one by one (libavformat applies the start of each chunk's edit list but not
//   an end inside the last AAC frame, as ffmpeg and most players do) and concatenated,
//   the audio equals the decoded audio of the same recording written as one chunk,
//   sample for sample: each chunk's audio ends on an AAC frame boundary, where the next
//   chunk's starts (one continuous AAC encode; each chunk starts with a priming packet
//   its edit list skips);
// - through ffmpeg's concat demuxer, as `ffmpeg -f concat` joins files, the audio is as
//   long as the unchunked recording's to within one AAC frame in total, however many
//   chunks, and the pictures are the same number;
// - every chunk starts on a keyframe, its audio within half an AAC frame of its video.
#include <algorithm>
#include <fstream>

extern "C" {
#include <libavutil/dict.h>
}

#include "callrec/muxer/recording_writer.h"
#include "chunk_writer.h"
#include "muxer_test_support.h"

namespace callrec::muxer {
namespace {

using testing::FakeAnnotator;
using testing::files_with_extension;
using testing::PeriodSource;
using testing::read_json;
using testing::TempDir;

const int kQuietLibav = [] {
  av_log_set_level(AV_LOG_ERROR);
  return 0;
}();

struct Decoded {
  std::vector<float> samples;  // as libavcodec decodes them (priming skipped by libavformat)
  int64_t edit_samples = 0;    // the audio track's duration after the edit list
  int64_t pictures = 0;
  bool first_video_packet_key = false;
  int64_t first_video_pts = -1;
};

// Opens `url` (a file, or with `format` "concat" a list of files) and decodes both tracks.
Decoded decode(const std::string& url, const char* format = nullptr) {
  AVDictionary* options = nullptr;
  if (format != nullptr) av_dict_set(&options, "safe", "0", 0);
  AVFormatContext* raw = nullptr;
  const int opened = avformat_open_input(&raw, url.c_str(), format ? av_find_input_format(format) : nullptr, &options);
  av_dict_free(&options);
  check_av(opened, url + ": open");
  av::InputFormatPtr input(raw);
  check_av(avformat_find_stream_info(input.get(), nullptr), "find_stream_info");
  Decoded out;
  std::vector<av::CodecContextPtr> decoders(input->nb_streams);
  for (unsigned i = 0; i < input->nb_streams; ++i) {
    const AVStream* stream = input->streams[i];
    if (stream->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
      out.edit_samples = av_rescale_q(stream->duration, stream->time_base, AVRational{1, kSampleRateHz});
    }
    const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
    decoders[i].reset(avcodec_alloc_context3(codec));
    check_av(avcodec_parameters_to_context(decoders[i].get(), stream->codecpar), "decoder params");
    check_av(avcodec_open2(decoders[i].get(), codec, nullptr), "open decoder");
  }
  av::PacketPtr packet = av::make_packet();
  av::FramePtr frame = av::make_frame();
  auto drain = [&](unsigned i) {
    while (avcodec_receive_frame(decoders[i].get(), frame.get()) >= 0) {
      if (decoders[i]->codec_type == AVMEDIA_TYPE_AUDIO) {
        const auto* data = reinterpret_cast<const float*>(frame->extended_data[0]);
        out.samples.insert(out.samples.end(), data, data + frame->nb_samples);
      } else {
        ++out.pictures;
      }
    }
  };
  bool first_video = true;
  while (av_read_frame(input.get(), packet.get()) >= 0) {
    const auto i = static_cast<unsigned>(packet->stream_index);
    if (decoders[i]->codec_type == AVMEDIA_TYPE_VIDEO && first_video) {
      first_video = false;
      out.first_video_packet_key = (packet->flags & AV_PKT_FLAG_KEY) != 0;
      out.first_video_pts = packet->pts;
    }
    check_av(avcodec_send_packet(decoders[i].get(), packet.get()), url + ": decoding");
    av_packet_unref(packet.get());
    drain(i);
  }
  for (unsigned i = 0; i < input->nb_streams; ++i) {
    avcodec_send_packet(decoders[i].get(), nullptr);
    drain(i);
  }
  return out;
}

nlohmann::json write_recording(const std::filesystem::path& dir, uint64_t max_bytes, int64_t periods) {
  FakeAnnotator annotator;
  RecordingConfig config;
  config.out_dir = dir;
  config.call_id = "gapless";
  config.recording_start_time = annotator.start;
  config.max_chunk_bytes = max_bytes;
  // Noise at a set rate: chunks of a few periods each, so a short recording has many.
  config.encoder.video_rate_control = VideoRateControl::kAverageBitrate;
  RecordingWriter writer(config, annotator);
  PeriodSource source(1.0);
  for (int64_t k = 0; k < periods; ++k) {
    source.fill(k);
    writer.write_period(source.canvas(), source.audio());
  }
  return writer.finish("CallEnded");
}

size_t count_differences(std::span<const float> a, std::span<const float> b, size_t* first) {
  size_t differing = 0;
  *first = a.size();
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) {
      if (differing++ == 0) *first = i;
    }
  }
  return differing;
}

class GaplessTest : public ::testing::Test {
 protected:
  static constexpr int64_t kPeriods = 60;

  static void SetUpTestSuite() {
    whole_ = new TempDir("gapless-whole");
    chunked_ = new TempDir("gapless-chunked");
    write_recording(whole_->path(), kDefaultMaxChunkBytes, kPeriods);
    write_recording(chunked_->path(), 400'000, kPeriods);
  }
  static void TearDownTestSuite() {
    delete whole_;
    delete chunked_;
  }

  static Decoded reference() {
    const auto one = files_with_extension(whole_->path(), ".mp4");
    EXPECT_EQ(one.size(), 1u);
    return decode(one.at(0).string());
  }

  static TempDir* whole_;
  static TempDir* chunked_;
};

TempDir* GaplessTest::whole_ = nullptr;
TempDir* GaplessTest::chunked_ = nullptr;

TEST_F(GaplessTest, ChunksDecodedOneByOneJoinSampleForSample) {
  const Decoded whole = reference();
  EXPECT_EQ(whole.edit_samples, kPeriods * kSamplesPerPeriod);
  ASSERT_GE(whole.samples.size(), static_cast<size_t>(whole.edit_samples));

  const auto chunks = files_with_extension(chunked_->path(), ".mp4");
  ASSERT_GE(chunks.size(), 5u);
  std::vector<float> joined;  // every sample decoded, as a player ignoring the edit list's end plays them
  int64_t periods = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    SCOPED_TRACE(chunks[i].filename().string());
    const Decoded a = decode(chunks[i].string());
    const nlohmann::json meta = read_json(chunked_->path() / (chunks[i].stem().string() + ".json"));
    const int64_t frames = meta["videoFrames"].get<int64_t>();
    EXPECT_EQ(a.pictures, frames);
    EXPECT_TRUE(a.first_video_packet_key) << "each chunk starts on a keyframe";
    EXPECT_EQ(a.first_video_pts, 0);
    // The chunk's audio runs between the AAC frame boundaries nearest its video's start
    // and end (the recording's end for the last).
    const int64_t start = nearest_audio_frame_boundary(periods * kSamplesPerPeriod);
    periods += frames;
    const int64_t end = i + 1 == chunks.size() ? periods * kSamplesPerPeriod
                                               : nearest_audio_frame_boundary(periods * kSamplesPerPeriod);
    EXPECT_EQ(a.edit_samples, end - start) << "the edit list ends at the chunk's audio boundary";
    EXPECT_EQ(meta["audioSamples"], a.edit_samples);
    EXPECT_LE(std::abs(end - periods * kSamplesPerPeriod), kAacFrameSamples / 2) << "audio ends by the video";
    if (i + 1 < chunks.size()) {
      EXPECT_EQ(static_cast<int64_t>(a.samples.size()), a.edit_samples) << "nothing decodes past the boundary";
    } else {
      EXPECT_LT(static_cast<int64_t>(a.samples.size()), a.edit_samples + kAacFrameSamples);
    }
    joined.insert(joined.end(), a.samples.begin(), a.samples.end());
  }
  EXPECT_EQ(periods, kPeriods);
  ASSERT_EQ(joined.size(), whole.samples.size()) << "the same samples, the last frame's padding included";
  size_t first = 0;
  EXPECT_EQ(count_differences(joined, whole.samples, &first), 0u) << "first difference at sample " << first;
}

TEST_F(GaplessTest, ChunksJoinedByFfmpegsConcatDemuxerAreAsLongAsTheRecording) {
  const Decoded whole = reference();
  const auto chunks = files_with_extension(chunked_->path(), ".mp4");
  ASSERT_GE(chunks.size(), 5u);
  const std::filesystem::path list = chunked_->path() / "list.txt";
  {
    std::ofstream out(list);
    for (const auto& chunk : chunks) out << "file '" << chunk.string() << "'\n";
  }
  const Decoded joined = decode(list.string(), "concat");
  EXPECT_EQ(joined.pictures, kPeriods) << "every picture once";
  // Before the chunks' audio ended on frame boundaries, each chunk added up to one
  // frame (its last, cut by an edit list the demuxer ignores): 5 chunks, 5 frames.
  EXPECT_LE(std::abs(static_cast<int64_t>(joined.samples.size()) - kPeriods * kSamplesPerPeriod), kAacFrameSamples)
      << joined.samples.size() << " samples joined for " << kPeriods * kSamplesPerPeriod;
  size_t first = 0;
  EXPECT_EQ(count_differences(joined.samples, whole.samples, &first), 0u) << "first difference at sample " << first;
}

}  // namespace
}  // namespace callrec::muxer
