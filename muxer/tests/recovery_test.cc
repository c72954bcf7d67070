#include "callrec/muxer/recovery.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "callrec/muxer/recording_writer.h"
#include "muxer_test_support.h"
#include "picture_groups.h"

namespace callrec::muxer {
namespace {

using testing::FakeAnnotator;
using testing::files_with_extension;
using testing::inspect_mp4;
using testing::PeriodSource;
using testing::read_json;
using testing::TempDir;

const int kQuietLibav = [] {
  av_log_set_level(AV_LOG_FATAL);  // truncated files make the demuxer complain
  return 0;
}();

constexpr uint64_t kMaxBytes = 1'000'000;
constexpr int64_t kPeriods = 90;

RecordingConfig make_config(const std::filesystem::path& dir, int bframes) {
  RecordingConfig config;
  config.out_dir = dir;
  config.call_id = "crash-call";
  config.resource_id = "res";
  config.recording_id = "rec";
  config.recording_start_time = WallClock{1'795'000'000'000'000};
  config.max_chunk_bytes = kMaxBytes;
  config.encoder.video_bframes = bframes;
  // Noisy pictures at a 1 Mbit/s ceiling: the first up to the VBV buffer's 500 kB, the
  // rest at the ceiling, so 90 periods make one closed chunk and an open one.
  config.encoder.video_rate_control = VideoRateControl::kCappedQuality;
  config.encoder.video_quality = 30;
  return config;
}

// Writes kPeriods of noisy video under a 1 MB budget and "crashes": the writer is
// destroyed without finish(), leaving chunk 0 closed and chunk 1 as a fragmented .part.
void write_interrupted_recording(const std::filesystem::path& dir, int bframes) {
  FakeAnnotator annotator;
  RecordingWriter writer(make_config(dir, bframes), annotator);
  PeriodSource source(1.0, /*moving=*/true);  // a sliding noise texture, which B-frames predict
  for (int64_t k = 0; k < kPeriods; ++k) {
    source.fill(k);
    writer.write_period(source.canvas(), source.audio());
  }
}

std::filesystem::path find_part(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().ends_with(".mp4.part")) return e.path();
  }
  return {};
}

// Byte offsets in the fragmented file `part` just after a video packet that leaves a
// picture before it missing (a reference picture whose B-frames come next): a crash
// there cuts a group of pictures in two.
std::vector<uint64_t> cuts_inside_groups(const std::filesystem::path& part) {
  AVFormatContext* raw = nullptr;
  check_av(avformat_open_input(&raw, part.c_str(), nullptr, nullptr), "open part");
  av::InputFormatPtr input(raw);
  check_av(avformat_find_stream_info(input.get(), nullptr), "part stream info");
  std::vector<uint64_t> cuts;
  std::optional<int64_t> first_pts;
  PictureGroups groups;
  av::PacketPtr packet = av::make_packet();
  while (av_read_frame(input.get(), packet.get()) >= 0) {
    const AVStream* stream = input->streams[packet->stream_index];
    if (stream->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      if (!first_pts) first_pts = packet->pts;
      const int64_t picture = av_rescale_q(packet->pts - *first_pts, stream->time_base, AVRational{1, kFrameRate});
      if (!groups.add(picture)) cuts.push_back(static_cast<uint64_t>(packet->pos + packet->size));
    }
    av_packet_unref(packet.get());
  }
  return cuts;
}

// Parameter: B-frames. With them a cut can fall between a reference picture and the
// B-frames shown before it; the recovered chunk still shows every picture up to its end.
class TruncatedRecoveryTest : public ::testing::TestWithParam<int> {};

TEST_P(TruncatedRecoveryTest, RecoversTruncatedChunksAndCompletesTheRecording) {
  TempDir original;
  write_interrupted_recording(original.path(), GetParam());
  const std::filesystem::path part = find_part(original.path());
  ASSERT_FALSE(part.empty()) << "the open chunk must be on disk as a fragmented .part file";
  ASSERT_EQ(files_with_extension(original.path(), ".mp4").size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(original.path() / "recording.json"));
  const uint64_t part_size = std::filesystem::file_size(part);
  const auto closed = files_with_extension(original.path(), ".json");
  ASSERT_EQ(closed.size(), 1u);
  const int64_t chunk0_frames = read_json(closed[0])["videoFrames"].get<int64_t>();

  std::mt19937 random(1234);
  // 0 and 24: the crash came while the chunk's file was being created (not even its
  // header on disk).
  std::vector<uint64_t> cut_points = {part_size, part_size / 2, 0, 24};
  for (int i = 0; i < 6; ++i) cut_points.push_back(std::uniform_int_distribution<uint64_t>(0, part_size)(random));
  if (GetParam() > 0) {
    // B-frames are small: random cuts rarely fall between a reference and its B-frames.
    const std::vector<uint64_t> inside = cuts_inside_groups(part);
    ASSERT_GE(inside.size(), 3u) << "the chunk should have B-frames";
    for (size_t k = 0; k < 3; ++k) cut_points.push_back(inside[inside.size() * (2 * k + 1) / 6]);
  }
  int64_t previous_frames = -1;
  std::sort(cut_points.begin(), cut_points.end());
  for (uint64_t cut : cut_points) {
    SCOPED_TRACE("truncated at " + std::to_string(cut) + " of " + std::to_string(part_size));
    TempDir dir;
    std::filesystem::copy(original.path(), dir.path(), std::filesystem::copy_options::recursive);
    std::filesystem::resize_file(dir.path() / part.filename(), cut);

    const RecoveryReport report = recover_recording(dir.path());
    ASSERT_EQ(report.outcome, RecoveryReport::Outcome::kRecovered);
    const std::optional<nlohmann::json>& notification = report.notification;
    ASSERT_TRUE(notification.has_value());
    EXPECT_EQ(read_json(dir.path() / "recording.json"), *notification);
    EXPECT_EQ(report.recording_id, "rec");
    const auto& data = (*notification)["data"];
    EXPECT_EQ(data["sessionEndReason"], kRecoveredSessionEndReason);
    const auto& chunks = data["recordingStorageInfo"]["recordingChunks"];
    ASSERT_GE(chunks.size(), 1u);
    EXPECT_EQ(chunks[0]["endReason"], "ChunkMaximumSizeExceeded");

    const auto mp4s = files_with_extension(dir.path(), ".mp4");
    ASSERT_EQ(mp4s.size(), chunks.size());
    int64_t recovered_frames = 0;
    if (mp4s.size() == 2) {
      const testing::Mp4Report r = inspect_mp4(mp4s[1]);
      EXPECT_LE(std::filesystem::file_size(mp4s[1]), kMaxBytes);
      EXPECT_TRUE(r.video.first_packet_key);
      EXPECT_EQ(r.video.first_pts, 0);
      EXPECT_EQ(r.video.codec, "h264");
      EXPECT_EQ(r.audio.codec, "aac");
      EXPECT_EQ(r.video.decoded_frames, r.video.packets);
      if (GetParam() > 0 && r.video.decoded_frames > 2 * kFrameRate) {
        EXPECT_GT(r.video.b_frames, 0);
      }
      EXPECT_EQ(av_rescale_q(r.video.last_frame_pts, r.video.time_base, AVRational{1, kFrameRate}),
                r.video.decoded_frames - 1)
          << "pictures shown at 0, 125, 250 ms, ... without a gap";
      const auto boxes = r.top_level_boxes;
      EXPECT_LT(std::find(boxes.begin(), boxes.end(), "moov"), std::find(boxes.begin(), boxes.end(), "mdat"));
      recovered_frames = r.video.decoded_frames;
      EXPECT_LE(recovered_frames, kPeriods - chunk0_frames);
      const nlohmann::json meta = read_json(dir.path() / (mp4s[1].stem().string() + ".json"));
      EXPECT_EQ(meta["recovered"], true);
      EXPECT_EQ(meta["chunkIndex"], 1);
      EXPECT_EQ(meta["videoFrames"], recovered_frames);
      EXPECT_EQ(meta["callId"], "crash-call");
      EXPECT_EQ(meta["participants"][1]["participantId"], "chunk-0");  // carried from chunk 0
      EXPECT_TRUE(meta["chunkStartTime"].is_string());
      EXPECT_EQ(chunks[1]["documentId"], mp4s[1].stem().string());
    }
    if (cut == part_size) {
      // The fragment in progress (at most 1 s) was still in the muxer's memory, and with
      // B-frames the pictures of a group not yet complete were still in the encoder. The
      // muxer cuts fragments by duration, so the last flushed fragment can end inside a
      // group, whose pictures recovery drops too (at most the B-frames' count more). The
      // muxer's interleaving also holds back a picture whose time the audio has not
      // reached yet (the AAC encoder's delay; measured: 24 pictures on disk of 33 written,
      // 8 in the fragment in progress and one waiting for its audio).
      const int64_t in_encoder = (GetParam() > 0 ? GetParam() + 1 : 0) + 1;
      const int64_t cut_group = GetParam();
      EXPECT_GE(recovered_frames, kPeriods - chunk0_frames - kFrameRate - in_encoder - cut_group)
          << "whole file: only the open fragment lost";
    }
    EXPECT_GE(recovered_frames, previous_frames) << "a longer file never recovers fewer frames";
    previous_frames = recovered_frames;
    EXPECT_EQ(data["recordingDurationMs"], (chunk0_frames + recovered_frames) * 125);
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      EXPECT_NE(e.path().filename().string().front(), '.') << "left behind: " << e.path();
    }
    // A second recovery has nothing to do.
    EXPECT_EQ(recover_recording(dir.path()).outcome, RecoveryReport::Outcome::kAlreadyComplete);
  }
}

INSTANTIATE_TEST_SUITE_P(Bframes, TruncatedRecoveryTest, ::testing::Values(0, 2),
                         [](const auto& info) { return "bframes" + std::to_string(info.param); });

// Chunks so small that one ends before the one before it has its audio (several
// chunks unfinished at once): whenever the crash comes, the recovered recording lists
// every chunk on disk.
TEST(RecoveryTest, RecoversWhenSeveralChunksAreUnfinished) {
  int recovered = 0;
  size_t max_chunks = 0;
  for (int64_t periods = 4; periods <= 12; ++periods) {
    SCOPED_TRACE("crash after " + std::to_string(periods) + " periods");
    TempDir dir;
    {
      FakeAnnotator annotator;
      RecordingConfig config = make_config(dir.path(), /*bframes=*/2);
      config.max_chunk_bytes = 120'000;  // a keyframe (85 kB) and no more
      config.encoder.video_rate_control = VideoRateControl::kQuality;
      config.encoder.video_quality = 51;
      config.encoder.video_reuse_weighting = false;  // every keyframe alike
      RecordingWriter writer(config, annotator);
      PeriodSource source(1.0);  // every picture as costly as a keyframe
      for (int64_t k = 0; k < periods; ++k) {
        source.fill(k);
        writer.write_period(source.canvas(), source.audio());
      }
    }
    const RecoveryReport report = recover_recording(dir.path());
    const std::optional<nlohmann::json>& notification = report.notification;
    if (report.outcome == RecoveryReport::Outcome::kNothingRecoverable) {  // nothing had reached the disk yet
      EXPECT_TRUE(files_with_extension(dir.path(), ".mp4").empty());
      continue;
    }
    ASSERT_EQ(report.outcome, RecoveryReport::Outcome::kRecovered);
    ++recovered;
    const auto& chunks = (*notification)["data"]["recordingStorageInfo"]["recordingChunks"];
    const auto mp4s = files_with_extension(dir.path(), ".mp4");
    ASSERT_EQ(chunks.size(), mp4s.size()) << "every chunk on disk is in recording.json";
    int64_t frames = 0;
    for (size_t i = 0; i < mp4s.size(); ++i) {
      EXPECT_EQ(chunks[i]["documentId"], mp4s[i].stem().string());
      EXPECT_EQ(chunks[i]["index"], static_cast<int>(i));
      frames += read_json(dir.path() / (mp4s[i].stem().string() + ".json"))["videoFrames"].get<int64_t>();
    }
    EXPECT_EQ((*notification)["data"]["recordingDurationMs"], frames * 125);
    max_chunks = std::max(max_chunks, mp4s.size());
  }
  EXPECT_GE(recovered, 5);
  EXPECT_GE(max_chunks, 4u) << "the budget should make many small chunks";
}

// Every file of a folder, name -> contents.
std::map<std::string, std::string> snapshot(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    files[e.path().filename().string()] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return files;
}

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// Files another program (or the user) keeps in the folder, some named the way callrec
// names its temporaries: none of them is callrec's to touch.
const std::map<std::string, std::string> kForeignFiles = {
    {".mine.mp4.part", "someone's download"},
    {".cache.tmp", "an editor's swap"},
    {".abc.mp4.tmp", "a remux in progress elsewhere"},
    {".notes.json.tmp", "{}"},
    {"..notes.state.json.tmp", "{"},
    {".other.state.json", R"({"state": "someone else's"})"},
    // Named like a chunk state file, but not one (another recording's token, no state).
    {".0123456789abcdef0123456789abcdef-000000.state.json", "not json"},
    {".0123456789abcdef0123456789abcdef-000000.mp4.part", "not ours either"},
    {"clip.mp4", "a user's video"},
    {"notes.txt", "minutes of the call"},
};

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

// A folder that holds no recording: recovery says so and changes nothing (it used to
// delete ".mine.mp4.part" and ".cache.tmp" on the way).
TEST(RecoveryTest, FolderOfForeignFilesIsLeftUntouched) {
  TempDir dir;
  for (const auto& [name, contents] : kForeignFiles) write_file(dir.path() / name, contents);
  const auto before = snapshot(dir.path());

  const RecoveryReport report = recover_recording(dir.path());
  EXPECT_EQ(report.outcome, RecoveryReport::Outcome::kNoRecording);
  EXPECT_FALSE(report.notification.has_value());
  EXPECT_TRUE(report.removed.empty());
  EXPECT_EQ(snapshot(dir.path()), before);
  // The files only named like state files are reported as not being callrec's.
  EXPECT_TRUE(mentions(report.findings, ".other.state.json: not a callrec chunk state file"));
  EXPECT_TRUE(mentions(report.findings,
                       ".0123456789abcdef0123456789abcdef-000000.state.json: not a callrec chunk state file"));
}

// A recording that failed (or was killed) before its first fragment reached the disk:
// a state file and a chunk with its header and no media. Recovery names the recording
// and the chunk and why nothing can be recovered, and changes nothing (it used to delete
// both files and report "not an interrupted recording (no chunk state file)").
TEST(RecoveryTest, RecordingThatFailedEarlyIsReportedAndKept) {
  TempDir dir;
  {
    FakeAnnotator annotator;
    RecordingWriter writer(make_config(dir.path(), /*bframes=*/0), annotator);
    PeriodSource source(0.0);
    for (int k = 0; k < 2; ++k) {  // a quarter of a second: no fragment yet
      source.fill(k);
      writer.write_period(source.canvas(), source.audio());
    }
  }  // destroyed without finish(): what an early failure leaves
  const std::filesystem::path part = find_part(dir.path());
  ASSERT_FALSE(part.empty());
  for (const auto& [name, contents] : kForeignFiles) write_file(dir.path() / name, contents);
  const std::string id = part.filename().string().substr(1, part.filename().string().size() - 10);
  ASSERT_TRUE(std::filesystem::exists(dir.path() / ("." + id + ".state.json")));
  const auto before = snapshot(dir.path());

  for (int run = 0; run < 2; ++run) {  // the same answer every time
    const RecoveryReport report = recover_recording(dir.path());
    EXPECT_EQ(report.outcome, RecoveryReport::Outcome::kNothingRecoverable);
    EXPECT_EQ(report.recording_id, "rec");
    EXPECT_EQ(report.call_id, "crash-call");
    EXPECT_TRUE(mentions(report.findings, "chunk 0 (" + id + "): ." + id + ".mp4.part (")) << ::testing::PrintToString(report.findings);
    EXPECT_TRUE(mentions(report.findings, "holds no complete second of media")) << ::testing::PrintToString(report.findings);
    EXPECT_TRUE(report.removed.empty());
    EXPECT_EQ(snapshot(dir.path()), before) << "recovery changed the folder";
  }

  // Cut inside its header (killed while the chunk's file was being created): the same.
  std::filesystem::resize_file(part, 20);
  const RecoveryReport cut = recover_recording(dir.path());
  EXPECT_EQ(cut.outcome, RecoveryReport::Outcome::kNothingRecoverable);
  EXPECT_TRUE(mentions(cut.findings, "is cut inside its header")) << ::testing::PrintToString(cut.findings);
  EXPECT_TRUE(std::filesystem::exists(part));
}

// A real interrupted recording among foreign files: the recording is completed and its
// own temporaries go; every foreign file stays as it was.
TEST(RecoveryTest, RecoveryRemovesOnlyTheRecordingsOwnFiles) {
  TempDir dir;
  write_interrupted_recording(dir.path(), /*bframes=*/0);
  const std::filesystem::path part = find_part(dir.path());
  ASSERT_FALSE(part.empty());
  const std::string id = part.filename().string().substr(1, part.filename().string().size() - 10);
  // Temporaries a crash can leave, named after the recording's chunks: an atomic write
  // cut short, the next chunk's state file being written.
  const std::string first_id = id.substr(0, 33) + "000000";
  write_file(dir.path() / ("." + first_id + ".json.tmp"), "{\"half\": ");
  const std::string next_id = id.substr(0, 33) + "000002";
  // (write_file_atomically's temporary of ".<id>.state.json" is "..<id>.state.json.tmp").
  write_file(dir.path() / (".." + next_id + ".state.json.tmp"), "{");
  for (const auto& [name, contents] : kForeignFiles) write_file(dir.path() / name, contents);

  const RecoveryReport report = recover_recording(dir.path());
  ASSERT_EQ(report.outcome, RecoveryReport::Outcome::kRecovered);
  EXPECT_TRUE(mentions(report.findings, "chunk 1 (" + id + "): recovered ")) << ::testing::PrintToString(report.findings);
  std::set<std::string> removed;
  for (const auto& path : report.removed) removed.insert(path.filename().string());
  EXPECT_EQ(removed, (std::set<std::string>{"." + id + ".mp4.part", "." + id + ".state.json", "." + first_id + ".json.tmp",
                                            ".." + next_id + ".state.json.tmp"}));
  const auto after = snapshot(dir.path());
  for (const auto& [name, contents] : kForeignFiles) {
    ASSERT_EQ(after.count(name), 1u) << name << " was removed";
    EXPECT_EQ(after.at(name), contents) << name << " was changed";
  }
  for (const auto& [name, contents] : after) {
    if (name.front() == '.') {
      EXPECT_EQ(kForeignFiles.count(name), 1u) << "left behind: " << name;
    }
  }
}

// State files of two recordings in one folder: which one to complete is not recovery's
// to guess; it refuses and changes nothing.
TEST(RecoveryTest, StateFilesOfTwoRecordingsAreRefused) {
  TempDir first, second;
  write_interrupted_recording(first.path(), /*bframes=*/0);
  {
    FakeAnnotator annotator;
    RecordingConfig config = make_config(second.path(), /*bframes=*/0);
    config.recording_id = "other-rec";
    RecordingWriter writer(config, annotator);
    PeriodSource source(0.0);
    source.fill(0);
    writer.write_period(source.canvas(), source.audio());
  }
  for (const auto& e : std::filesystem::directory_iterator(second.path())) {
    if (e.path().filename().string().ends_with(".state.json"))
      std::filesystem::copy_file(e.path(), first.path() / e.path().filename());
  }
  const auto before = snapshot(first.path());
  try {
    recover_recording(first.path());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("2 recordings"), std::string::npos) << what;
    EXPECT_NE(what.find("other-rec"), std::string::npos) << what;
    EXPECT_NE(what.find("nothing was changed"), std::string::npos) << what;
  }
  EXPECT_EQ(snapshot(first.path()), before);
}

TEST(RecoveryTest, FinishedRecordingNeedsNoRecovery) {
  TempDir dir;
  FakeAnnotator annotator;
  {
    RecordingWriter writer(make_config(dir.path(), /*bframes=*/0), annotator);
    PeriodSource source(0.0);
    for (int k = 0; k < 4; ++k) {
      source.fill(k);
      writer.write_period(source.canvas(), source.audio());
    }
    writer.finish("CallEnded");
  }
  const RecoveryReport report = recover_recording(dir.path());
  EXPECT_EQ(report.outcome, RecoveryReport::Outcome::kAlreadyComplete);
  EXPECT_TRUE(report.removed.empty());
  EXPECT_EQ(read_json(dir.path() / "recording.json")["data"]["sessionEndReason"], "CallEnded");
}

}  // namespace
}  // namespace callrec::muxer
