#include "callrec/muxer/recording_writer.h"

#include <regex>
#include <set>

extern "C" {
#include <libavutil/imgutils.h>
}

#include "atomic_file.h"
#include "muxer_test_support.h"
#include "picture_groups.h"
#include "reuse_weighting.h"
#include "video_encoder.h"

namespace callrec::muxer {
namespace {

using testing::FakeAnnotator;
using testing::files_with_extension;
using testing::inspect_mp4;
using testing::Mp4Report;
using testing::PeriodSource;
using testing::read_json;
using testing::TempDir;

// libx264 and the mp4 muxer are chatty at the default level.
const int kQuietLibav = [] {
  av_log_set_level(AV_LOG_ERROR);
  return 0;
}();

RecordingConfig make_config(const std::filesystem::path& dir, uint64_t max_bytes = kDefaultMaxChunkBytes) {
  RecordingConfig config;
  config.out_dir = dir;
  config.call_id = "c0ffee-call";
  config.resource_id = "resource-1";
  config.recording_id = "rec-42";
  config.recording_start_time = WallClock{1'795'000'000'000'000};
  config.max_chunk_bytes = max_bytes;
  return config;
}

nlohmann::json write_recording(const RecordingConfig& config, FakeAnnotator& annotator, int64_t periods,
                               double noise_fraction, bool moving = false) {
  RecordingWriter writer(config, annotator);
  PeriodSource source(noise_fraction, moving);
  for (int64_t k = 0; k < periods; ++k) {
    source.fill(k);
    writer.write_period(source.canvas(), source.audio());
  }
  // The newest periods may still be encoding (one or two, plus the lookahead, plus the
  // B-frames and the reference picture that completes them); finish writes them.
  const int bframes = config.encoder.video_bframes;
  EXPECT_GE(writer.duration().ms(),
            (periods - 2 - config.encoder.video_lookahead_frames - (bframes > 0 ? bframes + 1 : 0)) * 125);
  nlohmann::json notification = writer.finish("CallEnded");
  EXPECT_EQ(writer.duration().ms(), periods * 125);
  return notification;
}

double meta_bit_rate(const std::filesystem::path& mp4) {
  const nlohmann::json meta = read_json(mp4.parent_path() / (mp4.stem().string() + ".json"));
  return meta["recordingInfo"]["videoConfiguration"]["bitRate"].get<double>();
}

void expect_playable_chunk(const Mp4Report& r) {
  ASSERT_GE(r.top_level_boxes.size(), 3u);
  const auto moov = std::find(r.top_level_boxes.begin(), r.top_level_boxes.end(), "moov");
  const auto mdat = std::find(r.top_level_boxes.begin(), r.top_level_boxes.end(), "mdat");
  ASSERT_NE(moov, r.top_level_boxes.end());
  ASSERT_NE(mdat, r.top_level_boxes.end());
  EXPECT_LT(moov, mdat) << "moov must come before mdat (faststart)";
  EXPECT_EQ(r.video.codec, "h264");
  EXPECT_EQ(r.video.width, 1920);
  EXPECT_EQ(r.video.height, 1080);
  EXPECT_EQ(r.video.format, AV_PIX_FMT_YUV420P);
  EXPECT_EQ(r.video.decoded_format, AV_PIX_FMT_YUV420P);
  EXPECT_EQ(r.video.profile, FF_PROFILE_H264_HIGH);
  EXPECT_EQ(av_cmp_q(r.video.avg_frame_rate, AVRational{8, 1}), 0);
  EXPECT_TRUE(r.video.first_packet_key);
  EXPECT_EQ(r.video.first_pts, 0);
  EXPECT_EQ(r.video.decoded_frames, r.video.packets);
  EXPECT_EQ(r.audio.codec, "aac");
  EXPECT_EQ(r.audio.profile, FF_PROFILE_AAC_LOW);
  EXPECT_EQ(r.audio.sample_rate, 16000);
  EXPECT_EQ(r.audio.channels, 1);
  EXPECT_LE(r.audio.first_pts, 0);  // AAC priming may start before 0 (edit list)
}

void expect_chunk_schema(const nlohmann::json& j) {
  EXPECT_TRUE(j.at("resourceId").is_string());
  EXPECT_TRUE(j.at("callId").is_string());
  EXPECT_TRUE(j.at("chunkDocumentId").is_string());
  EXPECT_TRUE(j.at("chunkIndex").is_number_integer());
  EXPECT_TRUE(j.at("chunkStartTime").is_string());
  EXPECT_TRUE(j.at("chunkDuration").is_number());
  ASSERT_TRUE(j.at("pauseResumeIntervals").is_array());
  for (const auto& p : j.at("pauseResumeIntervals")) {
    EXPECT_TRUE(p.at("startTime").is_string());
    EXPECT_TRUE(p.at("duration").is_number());
  }
  const auto& info = j.at("recordingInfo");
  EXPECT_EQ(info.at("contentType"), "mixed");
  EXPECT_EQ(info.at("channelType"), "audioVideo");
  EXPECT_EQ(info.at("format"), "mp4");
  EXPECT_EQ(info.at("audioConfiguration").at("sampleRate"), "16000");
  EXPECT_TRUE(info.at("audioConfiguration").at("bitRate").is_number_integer());
  EXPECT_EQ(info.at("audioConfiguration").at("channels"), 1);
  EXPECT_EQ(info.at("videoConfiguration").at("longerSideLength"), 1920);
  EXPECT_EQ(info.at("videoConfiguration").at("shorterSideLength"), 1080);
  EXPECT_EQ(info.at("videoConfiguration").at("framerate"), 8);
  EXPECT_TRUE(info.at("videoConfiguration").at("bitRate").is_number_integer());
  ASSERT_TRUE(j.at("participants").is_array());
  for (const auto& p : j.at("participants")) EXPECT_TRUE(p.at("participantId").is_string());
}

TEST(RecordingWriterTest, WritesOnePlayableChunkWithMetadata) {
  TempDir dir;
  FakeAnnotator annotator;
  annotator.pause_positions_frames = {10, 24};  // 24 == end: belongs to the last chunk
  constexpr int64_t kPeriods = 24;
  const RecordingConfig config = make_config(dir.path());
  const nlohmann::json notification = write_recording(config, annotator, kPeriods, 0.1);

  const auto mp4s = files_with_extension(dir.path(), ".mp4");
  ASSERT_EQ(mp4s.size(), 1u);
  const Mp4Report r = inspect_mp4(mp4s[0]);
  expect_playable_chunk(r);
  EXPECT_EQ(r.video.decoded_frames, kPeriods);
  EXPECT_NEAR(static_cast<double>(r.audio.decoded_samples), kPeriods * 2000.0, 1024.0);

  const std::string doc_id = mp4s[0].stem().string();
  EXPECT_TRUE(std::regex_match(doc_id, std::regex("[A-Za-z0-9_-]+")));
  const nlohmann::json meta = read_json(dir.path() / (doc_id + ".json"));
  expect_chunk_schema(meta);
  EXPECT_EQ(meta["chunkDocumentId"], doc_id);
  EXPECT_EQ(meta["chunkIndex"], 0);
  EXPECT_EQ(meta["callId"], "c0ffee-call");
  EXPECT_EQ(meta["resourceId"], "resource-1");
  EXPECT_EQ(meta["recordingId"], "rec-42");
  EXPECT_EQ(meta["chunkDuration"], 3000);
  EXPECT_EQ(meta["chunkStartTime"], format_iso8601(annotator.start));
  EXPECT_EQ(meta["engineNote"], "from-annotator");
  EXPECT_EQ(meta["recordingInfo"]["audioConfiguration"]["bitRate"], EncoderSettings{}.audio_bitrate_bps);
  const double seconds = static_cast<double>(kPeriods) / kFrameRate;
  EXPECT_NEAR(meta["recordingInfo"]["videoConfiguration"]["bitRate"].get<double>(), r.video.bytes * 8 / seconds,
              1 + 8 / seconds)
      << "at a constant quality, the chunk's own video bit rate";
  ASSERT_EQ(meta["pauseResumeIntervals"].size(), 2u);
  EXPECT_EQ(meta["pauseResumeIntervals"][0]["startTime"],
            format_iso8601(WallClock{annotator.start.unix_us + 10 * 125'000}));
  EXPECT_EQ(meta["pauseResumeIntervals"][0]["duration"], 1500);
  EXPECT_EQ(meta["participants"][0]["participantId"], "8:acs:alice");
  EXPECT_EQ(meta["sha256"], sha256_file_hex(mp4s[0]));
  EXPECT_EQ(meta["sizeBytes"], std::filesystem::file_size(mp4s[0]));
  ASSERT_EQ(annotator.written.size(), 1u);
  EXPECT_EQ(annotator.written[0], meta);
  ASSERT_EQ(annotator.calls.size(), 1u);
  EXPECT_EQ(annotator.calls[0].start_frames, 0);
  EXPECT_EQ(annotator.calls[0].end_frames, kPeriods);
  EXPECT_TRUE(annotator.calls[0].last);

  const nlohmann::json on_disk = read_json(dir.path() / "recording.json");
  EXPECT_EQ(on_disk, notification);
  EXPECT_TRUE(std::regex_match(on_disk.at("id").get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  EXPECT_EQ(on_disk["topic"], "resource-1");
  EXPECT_EQ(on_disk["subject"], "/recording/call/c0ffee-call");
  EXPECT_EQ(on_disk["eventType"], "Microsoft.Communication.RecordingFileStatusUpdated");
  EXPECT_EQ(on_disk["dataVersion"], "1.0");
  EXPECT_EQ(on_disk["metadataVersion"], "1");
  EXPECT_TRUE(parse_iso8601(on_disk.at("eventTime").get<std::string>()).has_value());
  const auto& data = on_disk.at("data");
  EXPECT_EQ(data["recordingStartTime"], format_iso8601(config.recording_start_time));
  EXPECT_TRUE(data.at("recordingDurationMs").is_number_integer());
  EXPECT_EQ(data["recordingDurationMs"], 3000);
  EXPECT_EQ(data["sessionEndReason"], "CallEnded");
  const auto& chunks = data.at("recordingStorageInfo").at("recordingChunks");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0]["documentId"], doc_id);
  EXPECT_EQ(chunks[0]["index"], 0);
  EXPECT_EQ(chunks[0]["endReason"], "SessionEnded");

  // Nothing but the three outputs is left in the directory (no temporaries).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 3);
}

// A recording written under a small byte budget.
struct ChunkedCase {
  uint64_t max_bytes = 1'000'000;
  int64_t periods = 100;
  VideoRateControl rate_control = VideoRateControl::kAverageBitrate;
  int video_bitrate_bps = 1'000'000;
  int video_quality = 23;
  int lookahead = 0;
  int bframes = 0;
  // Fresh noise on this share of the rows (every picture as costly as a keyframe), or
  // with `moving` a noise texture sliding (which B-frames predict).
  double noise_fraction = 1.0;
  bool moving = false;
};

// Writes noisy video under a small byte budget and checks the chunking.
void check_chunked_recording(const ChunkedCase& t) {
  TempDir dir;
  FakeAnnotator annotator;
  const int64_t periods = t.periods;
  annotator.pause_positions_frames = {3, periods / 2, periods - 2, periods};
  RecordingConfig config = make_config(dir.path(), t.max_bytes);
  config.encoder.video_rate_control = t.rate_control;
  config.encoder.video_bitrate_bps = t.video_bitrate_bps;
  config.encoder.video_quality = t.video_quality;
  config.encoder.video_lookahead_frames = t.lookahead;
  config.encoder.video_bframes = t.bframes;
  const uint64_t max_bytes = t.max_bytes;
  const int bframes = t.bframes;
  const nlohmann::json notification = write_recording(config, annotator, periods, t.noise_fraction, t.moving);
  const auto mp4s = files_with_extension(dir.path(), ".mp4");
  ASSERT_GE(mp4s.size(), 2u);
  const auto& chunks = notification["data"]["recordingStorageInfo"]["recordingChunks"];
  ASSERT_EQ(chunks.size(), mp4s.size());
  ASSERT_EQ(annotator.calls.size(), mp4s.size());
  int64_t total_frames = 0;
  int64_t total_pauses = 0;
  double min_fill = 1.0;
  for (size_t i = 0; i < mp4s.size(); ++i) {
    SCOPED_TRACE("chunk " + std::to_string(i));
    const uint64_t size = std::filesystem::file_size(mp4s[i]);
    EXPECT_LE(size, max_bytes);
    if (i + 1 < mp4s.size()) min_fill = std::min(min_fill, static_cast<double>(size) / max_bytes);
    const Mp4Report r = inspect_mp4(mp4s[i]);
    expect_playable_chunk(r);
    const auto& call = annotator.calls[i];
    EXPECT_EQ(call.start_frames, total_frames) << "annotated ranges must be contiguous";
    EXPECT_EQ(r.video.decoded_frames, call.end_frames - call.start_frames);
    EXPECT_EQ(av_rescale_q(r.video.last_frame_pts, r.video.time_base, AVRational{1, kFrameRate}),
              r.video.decoded_frames - 1)
        << "pictures shown at 0, 125, 250 ms, ... without a gap";
    if (bframes > 0) {
      EXPECT_GT(r.video.b_frames, 0);
    }
    if (t.rate_control != VideoRateControl::kAverageBitrate) {
      // The metadata's video bit rate is the chunk's own when it is not a set rate.
      const double seconds = static_cast<double>(r.video.decoded_frames) / kFrameRate;
      EXPECT_NEAR(meta_bit_rate(mp4s[i]), r.video.bytes * 8 / seconds, 1 + 8 / seconds);
    }
    // The chunk's audio runs between the AAC frame boundaries nearest its video's start
    // and end (half a frame each way at most); the last one's decodes to its last frame's
    // end (an edit list ends it within).
    EXPECT_NEAR(static_cast<double>(r.audio.decoded_samples), r.video.decoded_frames * 2000.0,
                i + 1 < mp4s.size() ? 1024.0 : 1024.0 + 512.0);
    total_frames += r.video.decoded_frames;
    EXPECT_EQ(call.last, i + 1 == mp4s.size());

    const nlohmann::json meta = read_json(mp4s[i].parent_path() / (mp4s[i].stem().string() + ".json"));
    expect_chunk_schema(meta);
    EXPECT_EQ(meta["chunkIndex"], static_cast<int>(i));
    EXPECT_EQ(meta["chunkDuration"], r.video.decoded_frames * 125);
    EXPECT_EQ(meta["chunkStartTime"], format_iso8601(WallClock{annotator.start.unix_us + call.start_frames * 125'000}));
    EXPECT_EQ(meta["participants"][1]["participantId"], "chunk-" + std::to_string(i));
    EXPECT_EQ(meta["sha256"], sha256_file_hex(mp4s[i]));
    for (const auto& pause : meta["pauseResumeIntervals"]) {
      const int64_t at_us = parse_iso8601(pause["startTime"].get<std::string>())->unix_us - annotator.start.unix_us;
      const int64_t at_frames = at_us / 125'000;
      EXPECT_GE(at_frames, call.start_frames);
      EXPECT_TRUE(at_frames < call.end_frames || (call.last && at_frames == call.end_frames));
      ++total_pauses;
    }
    EXPECT_EQ(chunks[i]["documentId"], mp4s[i].stem().string());
    EXPECT_EQ(chunks[i]["endReason"], i + 1 == mp4s.size() ? "SessionEnded" : "ChunkMaximumSizeExceeded");
  }
  EXPECT_EQ(total_frames, periods);
  EXPECT_EQ(total_pauses, 4);
  EXPECT_EQ(notification["data"]["recordingDurationMs"], periods * 125);
  std::printf("max_chunk_bytes %llu: %zu chunks, lowest fill of a full chunk %.4f\n",
              static_cast<unsigned long long>(max_bytes), mp4s.size(), min_fill);
  // A chunk ends when the next group of pictures does not fit: one picture without
  // B-frames, with them a reference picture and its B-frames (here up to 90 kB of a
  // 1 MB chunk: noise costs as much at every quality near the top of the scale).
  EXPECT_GT(min_fill, 0.9) << "closed chunks should use most of the budget";
}

// A reference-counted picture is shared until its period is written (the compositor
// paints the next period into another canvas meanwhile); a picture over the caller's
// own memory is copied, so the caller may paint the next period into it at once.
TEST(RecordingWriterTest, SharesReferenceCountedPicturesAndCopiesOthers) {
  TempDir dir;
  FakeAnnotator annotator;
  const std::vector<float> audio(kSamplesPerPeriod, 0.0f);
  auto paint = [](uint8_t* const data[3], const int linesize[3], int luma) {
    for (int y = 0; y < kVideoHeight; ++y) std::memset(data[0] + ptrdiff_t{y} * linesize[0], luma, kVideoWidth);
    for (int plane = 1; plane < 3; ++plane) {
      for (int y = 0; y < kVideoHeight / 2; ++y) std::memset(data[plane] + ptrdiff_t{y} * linesize[plane], 128, kVideoWidth / 2);
    }
  };
  av::FramePtr shared = av::make_frame();
  shared->format = AV_PIX_FMT_YUV420P;
  shared->width = kVideoWidth;
  shared->height = kVideoHeight;
  check_av(av_frame_get_buffer(shared.get(), 0), "test picture");
  paint(shared->data, shared->linesize, 40);

  std::vector<uint8_t> memory(static_cast<size_t>(kVideoWidth) * kVideoHeight * 3 / 2);
  av::FramePtr plain = av::make_frame();  // no buffers: data pointers into `memory`
  plain->format = AV_PIX_FMT_YUV420P;
  plain->width = kVideoWidth;
  plain->height = kVideoHeight;
  ASSERT_GE(av_image_fill_arrays(plain->data, plain->linesize, memory.data(), AV_PIX_FMT_YUV420P, kVideoWidth,
                                 kVideoHeight, 1),
            0);
  constexpr int kPlainPeriods = 15;
  {
    RecordingWriter writer(make_config(dir.path()), annotator);
    writer.write_period(*shared, audio);
    EXPECT_FALSE(av_frame_is_writable(shared.get())) << "the writer holds the picture, not a copy";
    for (int k = 0; k < kPlainPeriods; ++k) {
      paint(plain->data, plain->linesize, 60 + 10 * k);
      writer.write_period(*plain, audio);
    }
    writer.finish("CallEnded");
    EXPECT_TRUE(av_frame_is_writable(shared.get())) << "the writer let the picture go once written";
  }

  const auto mp4s = files_with_extension(dir.path(), ".mp4");
  ASSERT_EQ(mp4s.size(), 1u);
  std::vector<double> mean_luma;  // per picture
  inspect_mp4(mp4s[0], [&](const AVFrame& picture) {
    int64_t sum = 0;
    for (int y = 0; y < picture.height; ++y) {
      const uint8_t* row = picture.data[0] + ptrdiff_t{y} * picture.linesize[0];
      for (int x = 0; x < picture.width; ++x) sum += row[x];
    }
    mean_luma.push_back(static_cast<double>(sum) / (int64_t{picture.width} * picture.height));
  });
  ASSERT_EQ(mean_luma.size(), 1u + kPlainPeriods);
  EXPECT_NEAR(mean_luma[0], 40, 1.5);
  for (int k = 0; k < kPlainPeriods; ++k) EXPECT_NEAR(mean_luma[1 + k], 60 + 10 * k, 1.5) << "period " << 1 + k;
}

TEST(RecordingWriterTest, SplitsNoisyVideoAtOneMegabyte) { check_chunked_recording({}); }

TEST(RecordingWriterTest, SplitsNoisyVideoAtThreeMegabytes) {
  check_chunked_recording({.max_bytes = 3'000'000, .periods = 80, .video_bitrate_bps = 4'000'000});
}

// With a lookahead, ten pictures are inside the encoder when a chunk fills up: they are
// encoded again at the start of the next chunk, and none is lost or doubled.
TEST(RecordingWriterTest, SplitsNoisyVideoWithEncoderLookahead) { check_chunked_recording({.lookahead = 10}); }

// With B-frames a chunk ends only after a reference picture and the B-frames before
// it: the group that does not fit goes whole to the next chunk. (Fresh noise makes
// every picture a scene cut, which x264 never codes as a B-frame: a sliding texture.)
TEST(RecordingWriterTest, SplitsNoisyVideoWithBframes) { check_chunked_recording({.bframes = 2, .moving = true}); }

TEST(RecordingWriterTest, SplitsNoisyVideoWithBframesAndLookahead) {
  check_chunked_recording({.lookahead = 10, .bframes = 3, .moving = true});
}

// At a constant quality the bits of a period are known only once it is coded: the budget
// holds all the same (it decides on the packets), with the chunks as full. A chunk ends
// when the next group (a reference picture and its two B-frames, about 105 kB of this
// content at quality 23) does not fit, so a 2 MB budget: in a 1 MB one a group is a
// tenth of the chunk and the lowest fill measured 0.899.
TEST(RecordingWriterTest, SplitsConstantQualityVideo) {
  check_chunked_recording({.max_bytes = 2'000'000, .periods = 130, .rate_control = VideoRateControl::kQuality,
                           .bframes = 2, .noise_fraction = 0.015});
}

// Capped: the quality asked (18) would need far more than the 1 Mbit/s ceiling, which
// the steering and x264's VBV hold.
TEST(RecordingWriterTest, SplitsCappedQualityVideo) {
  check_chunked_recording({.max_bytes = 1'000'000, .periods = 80, .rate_control = VideoRateControl::kCappedQuality,
                           .video_quality = 18, .noise_fraction = 0.3});
}

TEST(PictureGroupsTest, AGroupEndsWhenEveryPictureUpToTheLatestIsThere) {
  PictureGroups groups;
  EXPECT_TRUE(groups.add(0));  // the keyframe
  // Two B-frames: the reference picture 3 first, then the pictures shown before it.
  EXPECT_FALSE(groups.add(3));
  EXPECT_FALSE(groups.add(1));
  EXPECT_EQ(groups.complete(), 1);
  EXPECT_TRUE(groups.add(2));
  EXPECT_EQ(groups.complete(), 4);
  EXPECT_TRUE(groups.add(4));  // a reference picture with no B-frame before it
  EXPECT_EQ(groups.complete(), 5);
}

using NalUnits = std::vector<std::vector<uint8_t>>;

NalUnits annex_b_units(const std::vector<uint8_t>& data) {
  NalUnits units;
  size_t i = 0;
  auto start_code_at = [&](size_t at) { return at + 3 <= data.size() && data[at] == 0 && data[at + 1] == 0 && data[at + 2] == 1; };
  while (i < data.size() && !start_code_at(i)) ++i;
  while (i < data.size()) {
    const size_t begin = i + 3;
    size_t end = begin;
    while (end < data.size() && !start_code_at(end)) ++end;
    size_t last = end;  // a 4-byte start code's leading zero belongs to it, not to the unit
    if (end < data.size() && last > begin && data[last - 1] == 0) --last;
    units.emplace_back(data.begin() + static_cast<ptrdiff_t>(begin), data.begin() + static_cast<ptrdiff_t>(last));
    i = end;
  }
  return units;
}

NalUnits length_prefixed_units(const uint8_t* data, int size) {
  NalUnits units;
  size_t at = 0;
  while (at + 4 <= static_cast<size_t>(size)) {
    const size_t length = (size_t{data[at]} << 24) | (size_t{data[at + 1]} << 16) | (size_t{data[at + 2]} << 8) | data[at + 3];
    if (at + 4 + length > static_cast<size_t>(size)) break;
    units.emplace_back(data + at + 4, data + at + 4 + length);
    at += 4 + length;
  }
  return units;
}

// The writer codes each picture as one encoder would alone, with the reuse weighting
// seeing every picture once, in order (a recycled picture buffer once kept the offsets
// of the picture it held before): the chunk's H.264 packets equal those of a direct
// encode, byte for byte (x264 at one thread is deterministic).
TEST(RecordingWriterTest, CodesEachPictureAsTheEncoderAloneWould) {
  TempDir dir;
  FakeAnnotator annotator;
  constexpr int64_t kPeriods = 20;
  const RecordingConfig config = make_config(dir.path());
  write_recording(config, annotator, kPeriods, 0.3, /*moving=*/true);

  VideoEncoder encoder(config.encoder, kDefaultMaxChunkBytes, "direct");
  std::unique_ptr<ReuseWeighting> weighting = VideoEncoder::make_reuse_weighting(config.encoder);
  ASSERT_NE(weighting, nullptr);
  PeriodSource source(0.3, /*moving=*/true);
  std::vector<std::vector<uint8_t>> direct;
  auto keep = [&](const Packets& packets) {
    for (const auto& p : packets) direct.emplace_back(p->data, p->data + p->size);
  };
  av::FramePtr picture = av::make_frame();
  for (int64_t k = 0; k < kPeriods; ++k) {
    source.fill(k);
    check_av(av_frame_ref(picture.get(), &source.canvas()), "test picture");
    check_av(av_frame_make_writable(picture.get()), "test picture writable");
    weighting->annotate(*picture);
    keep(encoder.encode(*picture, config.encoder.video_quality));
    av_frame_unref(picture.get());
  }
  keep(encoder.flush());

  const auto mp4s = files_with_extension(dir.path(), ".mp4");
  ASSERT_EQ(mp4s.size(), 1u);
  AVFormatContext* raw = nullptr;
  check_av(avformat_open_input(&raw, mp4s[0].c_str(), nullptr, nullptr), "open");
  av::InputFormatPtr input(raw);
  check_av(avformat_find_stream_info(input.get(), nullptr), "stream info");
  av::PacketPtr packet = av::make_packet();
  size_t index = 0;
  while (av_read_frame(input.get(), packet.get()) >= 0) {
    if (input->streams[packet->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      ASSERT_LT(index, direct.size());
      // The MP4 holds length-prefixed NAL units, the encoder gave them with start codes.
      EXPECT_EQ(length_prefixed_units(packet->data, packet->size), annex_b_units(direct[index]))
          << "picture " << index << " differs from the direct encode";
      ++index;
    }
    av_packet_unref(packet.get());
  }
  EXPECT_EQ(index, direct.size());
}

TEST(RecordingWriterTest, UnwritableOutputDirectoryIsAClearError) {
  TempDir dir;
  const std::filesystem::path blocker = dir.path() / "not-a-dir";
  std::ofstream(blocker) << "x";
  FakeAnnotator annotator;
  try {
    RecordingWriter writer(make_config(blocker / "out"), annotator);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not-a-dir"), std::string::npos) << e.what();
  }
}

TEST(RecordingWriterTest, LimitTooSmallForOnePeriodIsAClearError) {
  TempDir dir;
  FakeAnnotator annotator;
  RecordingWriter writer(make_config(dir.path(), 20'000), annotator);
  PeriodSource source(1.0);
  source.fill(0);
  try {
    // The period is encoded beside the caller: its error comes from the next call.
    writer.write_period(source.canvas(), source.audio());
    writer.finish("CallEnded");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
}

TEST(RecordingWriterTest, FinishWithoutPeriodsIsAnError) {
  TempDir dir;
  FakeAnnotator annotator;
  RecordingWriter writer(make_config(dir.path()), annotator);
  EXPECT_THROW(writer.finish("CallEnded"), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "recording.json"));
}

TEST(RecordingWriterTest, ShortLastPeriodKeepsItsAudio) {
  TempDir dir;
  FakeAnnotator annotator;
  RecordingWriter writer(make_config(dir.path()), annotator);
  PeriodSource source(0.0);
  for (int k = 0; k < 8; ++k) {
    source.fill(k);
    writer.write_period(source.canvas(), k == 7 ? source.audio().first(500) : source.audio());
  }
  writer.finish("RecordingStopped");
  const auto mp4s = files_with_extension(dir.path(), ".mp4");
  ASSERT_EQ(mp4s.size(), 1u);
  const Mp4Report r = inspect_mp4(mp4s[0]);
  EXPECT_EQ(r.video.decoded_frames, 8);
  EXPECT_NEAR(static_cast<double>(r.audio.decoded_samples), 7 * 2000.0 + 500, 1024.0);
}

// A lossless render of a noisy grid writes fragments of tens of megabytes, from which
// libavformat's MP4 demuxer gives every AAC packet without its duration: the copy into
// the final file takes them as the AAC frames they are, and keeps all the audio.
TEST(RecordingWriterTest, LosslessNoiseKeepsItsAudioThroughTheRemux) {
  TempDir dir;
  FakeAnnotator annotator;
  RecordingConfig config = make_config(dir.path(), 1ULL << 40);
  config.encoder.video_rate_control = VideoRateControl::kQuality;
  config.encoder.video_quality = 0;
  config.encoder.video_bframes = 0;
  constexpr int kPeriods = 20;
  {
    RecordingWriter writer(config, annotator);
    PeriodSource source(1.0);
    for (int k = 0; k < kPeriods; ++k) {
      source.fill(k);
      writer.write_period(source.canvas(), k == kPeriods - 1 ? source.audio().first(700) : source.audio());
    }
    writer.finish("RecordingStopped");
  }
  const auto mp4s = files_with_extension(dir.path(), ".mp4");
  ASSERT_EQ(mp4s.size(), 1u);
  EXPECT_GT(std::filesystem::file_size(mp4s[0]), 40u << 20) << "fragments this large are the case";
  const Mp4Report r = inspect_mp4(mp4s[0]);
  EXPECT_EQ(r.video.decoded_frames, kPeriods);
  EXPECT_NEAR(static_cast<double>(r.audio.decoded_samples), (kPeriods - 1) * 2000.0 + 700, 1024.0);
}

}  // namespace
}  // namespace callrec::muxer
