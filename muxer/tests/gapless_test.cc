// Chunk boundaries leave no seam in the audio: the chunks' decoded audio, joined,
// equals the decoded audio of the same recording written as one chunk, sample for
// sample (one continuous AAC encode; each chunk starts with a priming packet its edit
// list skips and ends its edit list at the exact boundary sample).
#include <algorithm>

#include "callrec/muxer/recording_writer.h"
#include "muxer_test_support.h"

namespace callrec::muxer {
namespace {

using testing::FakeAnnotator;
using testing::files_with_extension;
using testing::PeriodSource;
using testing::read_json;
using testing::TempDir;

struct DecodedAudio {
  std::vector<float> samples;  // as libavcodec decodes them (priming skipped by libavformat)
  int64_t edit_samples = 0;    // the track's duration after the edit list
};

// Decodes the audio track. libavformat (5.1) applies the start of the edit list (it
// marks the priming to skip) but not its end inside the last AAC frame; the stream's
// duration is the edit list's, so a player honouring the edit list plays
// samples[0, edit_samples).
DecodedAudio decode_audio(const std::filesystem::path& path) {
  AVFormatContext* raw = nullptr;
  check_av(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), path.string() + ": open");
  av::InputFormatPtr input(raw);
  check_av(avformat_find_stream_info(input.get(), nullptr), "find_stream_info");
  const int index = av_find_best_stream(input.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  check_av(index, path.string() + ": no audio stream");
  const AVStream* stream = input->streams[index];
  DecodedAudio out;
  out.edit_samples = av_rescale_q(stream->duration, stream->time_base, AVRational{1, kSampleRateHz});
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  av::CodecContextPtr decoder(avcodec_alloc_context3(codec));
  check_av(avcodec_parameters_to_context(decoder.get(), stream->codecpar), "decoder params");
  check_av(avcodec_open2(decoder.get(), codec, nullptr), "open decoder");
  av::PacketPtr packet = av::make_packet();
  av::FramePtr frame = av::make_frame();
  auto drain = [&] {
    while (avcodec_receive_frame(decoder.get(), frame.get()) >= 0) {
      const auto* data = reinterpret_cast<const float*>(frame->extended_data[0]);
      out.samples.insert(out.samples.end(), data, data + frame->nb_samples);
    }
  };
  while (av_read_frame(input.get(), packet.get()) >= 0) {
    if (packet->stream_index == index) {
      check_av(avcodec_send_packet(decoder.get(), packet.get()), path.string() + ": decoding audio");
      drain();
    }
    av_packet_unref(packet.get());
  }
  avcodec_send_packet(decoder.get(), nullptr);
  drain();
  return out;
}

nlohmann::json write_recording(const std::filesystem::path& dir, uint64_t max_bytes, int64_t periods) {
  FakeAnnotator annotator;
  RecordingConfig config;
  config.out_dir = dir;
  config.call_id = "gapless";
  config.recording_start_time = annotator.start;
  config.max_chunk_bytes = max_bytes;
  RecordingWriter writer(config, annotator);
  PeriodSource source(1.0);
  for (int64_t k = 0; k < periods; ++k) {
    source.fill(k);
    writer.write_period(source.canvas(), source.audio());
  }
  return writer.finish("CallEnded");
}

TEST(GaplessTest, ChunkedAudioEqualsUnchunkedAudioSampleForSample) {
  constexpr int64_t kPeriods = 60;
  TempDir whole, chunked;
  write_recording(whole.path(), kDefaultMaxChunkBytes, kPeriods);
  write_recording(chunked.path(), 400'000, kPeriods);

  const auto one = files_with_extension(whole.path(), ".mp4");
  ASSERT_EQ(one.size(), 1u);
  const DecodedAudio reference = decode_audio(one[0]);
  EXPECT_EQ(reference.edit_samples, kPeriods * kSamplesPerPeriod);
  ASSERT_GE(reference.samples.size(), static_cast<size_t>(reference.edit_samples));

  const auto chunks = files_with_extension(chunked.path(), ".mp4");
  ASSERT_GE(chunks.size(), 3u);
  std::vector<float> joined;
  for (const auto& path : chunks) {
    SCOPED_TRACE(path.filename().string());
    const DecodedAudio a = decode_audio(path);
    const nlohmann::json meta = read_json(chunked.path() / (path.stem().string() + ".json"));
    EXPECT_EQ(a.edit_samples, meta["videoFrames"].get<int64_t>() * kSamplesPerPeriod) << "edit list ends at the boundary";
    EXPECT_EQ(meta["audioSamples"], a.edit_samples);
    ASSERT_GE(a.samples.size(), static_cast<size_t>(a.edit_samples));
    EXPECT_LT(a.samples.size(), static_cast<size_t>(a.edit_samples + 1024)) << "decoded beyond the last frame";
    joined.insert(joined.end(), a.samples.begin(), a.samples.begin() + a.edit_samples);
  }
  ASSERT_EQ(joined.size(), static_cast<size_t>(reference.edit_samples));
  size_t differing = 0;
  float worst = 0;
  for (size_t i = 0; i < joined.size(); ++i) {
    if (joined[i] != reference.samples[i]) ++differing;
    worst = std::max(worst, std::abs(joined[i] - reference.samples[i]));
  }
  size_t first = 0;
  while (first < joined.size() && joined[first] == reference.samples[first]) ++first;
  EXPECT_EQ(differing, 0u) << "largest difference " << worst << ", first at sample " << first;
}

}  // namespace
}  // namespace callrec::muxer
