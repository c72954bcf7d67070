// Chunking end to end, through the callrec binary: chunks join without a seam (audio
// sample for sample equal to an unchunked render, frame counts add up, start times
// chain), and storage faults (unwritable directory, full disk) are clear errors that
// leave the chunks finished before the fault intact and playable.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/core/wall_clock.h"
#include "callrec/mediagen/media_generator.h"
#include "decoded_media.h"
#include "run_command.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace mg = mediagen;
namespace fs = std::filesystem;

constexpr uint64_t kSmallLimit = 250'000;

struct DecodedAudio {
  std::vector<float> samples;  // as decoded; libavformat skips the priming
  int64_t edit_samples = 0;    // the track's duration after its edit list
};

// libavformat 5.1 applies the start of an MP4 edit list (it marks the priming for the
// decoder to skip) but not an end inside the last AAC frame; the stream duration is
// the edit list's, so a player honouring the edit list plays samples[0, edit_samples).
DecodedAudio decode_audio(const fs::path& path) {
  AVFormatContext* raw = nullptr;
  check_av(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), path.string() + ": open");
  av::InputFormatPtr input(raw);
  check_av(avformat_find_stream_info(input.get(), nullptr), path.string() + ": stream info");
  const int index = av_find_best_stream(input.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  check_av(index, path.string() + ": no audio stream");
  const AVStream* stream = input->streams[index];
  DecodedAudio out;
  out.edit_samples = av_rescale_q(stream->duration, stream->time_base, AVRational{1, 16000});
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  av::CodecContextPtr decoder(avcodec_alloc_context3(codec));
  check_av(avcodec_parameters_to_context(decoder.get(), stream->codecpar), "decoder parameters");
  check_av(avcodec_open2(decoder.get(), codec, nullptr), "opening the decoder");
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

// Chunks that were published (their .json is there) are complete and playable.
size_t expect_published_chunks_intact(const fs::path& dir) {
  const auto jsons = published_files(dir, ".json");
  for (const fs::path& json : jsons) {
    nlohmann::json meta;
    EXPECT_NO_THROW(meta = read_json(json)) << json;
    const fs::path mp4 = dir / (json.stem().string() + ".mp4");
    if (!fs::exists(mp4)) {
      ADD_FAILURE() << mp4 << " missing although its .json exists";
      continue;
    }
    EXPECT_EQ(fs::file_size(mp4), meta["sizeBytes"].get<uint64_t>()) << mp4;
    expect_plays_completely(mp4);
    const DecodedChunk c = decode_chunk(mp4);
    EXPECT_EQ(c.info.video_frames, meta["videoFrames"].get<int64_t>()) << mp4;
  }
  return jsons.size();
}

class ChunkingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    av_log_set_level(AV_LOG_ERROR);
    dir_ = new fs::path(fresh_dir("chunking"));
    // Noise makes the encoder spend its whole rate (chunks switch every ~2 s); two
    // voices; a tone only during the pause.
    mg::write_media(*dir_ / "ada.webm",
                    {.duration_ms = 8000,
                     .video = mg::VideoSpec{.width = 320, .height = 180, .fps = 15, .noise_amplitude = 40},
                     .audio = mg::AudioSpec{.tones = {{0, 8000, 440, 0.3}, {3000, 4500, 1200, 0.3}}}});
    mg::write_media(*dir_ / "bob.ogg", {.duration_ms = 8000, .audio = mg::AudioSpec{.tones = {{0, 8000, 660, 0.2}}}});
    std::ofstream(*dir_ / "call.json") << R"({
      "callId": "call-chunks", "recordingStartTime": "2026-11-27T10:00:00Z",
      "participants": [
        {"participantId": "8:acs:ada", "media": [{"file": "ada.webm", "offsetMs": 0}]},
        {"participantId": "8:acs:bob", "media": [{"file": "bob.ogg", "offsetMs": 0}]}],
      "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 3000, "action": "pause"},
                   {"atMs": 4500, "action": "resume"}, {"atMs": 8000, "action": "stop"}]
    })";
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  static CommandResult render(const fs::path& out, std::vector<std::string> extra = {}) {
    // Noise at 1 Mbit/s: chunks of a few periods under the small limit.
    std::vector<std::string> argv{CALLREC_BINARY, "render", (*dir_ / "call.json").string(), "--out", out.string(),
                                  "--quiet", "--video-bitrate", "1000000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv);
  }

  static fs::path* dir_;
};

fs::path* ChunkingTest::dir_ = nullptr;

TEST_F(ChunkingTest, ChunksJoinSampleForSampleLikeOneUnchunkedRender) {
  const fs::path whole = *dir_ / "whole", chunked = *dir_ / "chunked";
  CommandResult r = render(whole);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = render(chunked, {"--max-chunk-bytes", std::to_string(kSmallLimit)});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const nlohmann::json whole_rec = read_json(whole / "recording.json");
  ASSERT_EQ(whole_rec["data"]["recordingStorageInfo"]["recordingChunks"].size(), 1u);
  const std::string whole_id = whole_rec["data"]["recordingStorageInfo"]["recordingChunks"][0]["documentId"];
  const DecodedAudio reference = decode_audio(whole / (whole_id + ".mp4"));
  const int64_t whole_frames = decode_chunk(whole / (whole_id + ".mp4")).info.video_frames;
  EXPECT_EQ(whole_frames, (8000 - 1500) / 125);
  EXPECT_EQ(reference.edit_samples, whole_frames * 2000);

  const nlohmann::json rec = read_json(chunked / "recording.json");
  const auto& chunks = rec["data"]["recordingStorageInfo"]["recordingChunks"];
  ASSERT_GE(chunks.size(), 3u);
  std::vector<float> joined;
  int64_t frames = 0;
  std::optional<int64_t> expected_start_us;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const std::string id = chunks[i]["documentId"];
    SCOPED_TRACE("chunk " + std::to_string(i) + " " + id);
    const fs::path mp4 = chunked / (id + ".mp4");
    EXPECT_LE(fs::file_size(mp4), kSmallLimit);
    const nlohmann::json meta = read_json(chunked / (id + ".json"));
    const DecodedChunk c = decode_chunk(mp4);
    EXPECT_TRUE(c.info.first_video_packet_key);
    EXPECT_EQ(c.info.first_video_pts, 0);

    const DecodedAudio a = decode_audio(mp4);
    // The audio runs between the AAC frame boundaries (multiples of 1024 samples) nearest
    // the chunk's video start and end; the last chunk's ends with the recording.
    auto nearest_frame_boundary = [](int64_t sample) { return (sample + 512) / 1024 * 1024; };
    const int64_t audio_start = nearest_frame_boundary(frames * 2000);
    const int64_t audio_end = i + 1 == chunks.size() ? (frames + c.info.video_frames) * 2000
                                                     : nearest_frame_boundary((frames + c.info.video_frames) * 2000);
    EXPECT_EQ(a.edit_samples, audio_end - audio_start) << "the edit list ends at the chunk's audio boundary";
    frames += c.info.video_frames;
    ASSERT_GE(a.samples.size(), static_cast<size_t>(a.edit_samples));
    joined.insert(joined.end(), a.samples.begin(), a.samples.begin() + a.edit_samples);

    // chunkStartTime(n+1) = chunkStartTime(n) + chunkDuration(n) + pauses inside n.
    const int64_t start_us = parse_iso8601(meta["chunkStartTime"].get<std::string>())->unix_us;
    if (expected_start_us) {
      EXPECT_EQ(start_us, *expected_start_us) << "chunks are not back to back";
    }
    EXPECT_EQ(meta["chunkDuration"], c.info.video_frames * 125);
    int64_t paused_ms = 0;
    for (const auto& p : meta["pauseResumeIntervals"]) paused_ms += p["duration"].get<int64_t>();
    expected_start_us = start_us + (meta["chunkDuration"].get<int64_t>() + paused_ms) * 1000;
  }
  EXPECT_EQ(frames, whole_frames) << "video frames of the chunks add up";
  ASSERT_EQ(joined.size(), static_cast<size_t>(reference.edit_samples));
  size_t differing = 0, first = joined.size();
  for (size_t i = 0; i < joined.size(); ++i) {
    if (joined[i] != reference.samples[i]) {
      ++differing;
      first = std::min(first, i);
    }
  }
  EXPECT_EQ(differing, 0u) << "first difference at sample " << first;
  EXPECT_GT(tone_amplitude(joined, 440), 0.1) << "the audio compared is the call's";
  EXPECT_EQ(rec["data"]["recordingDurationMs"], whole_rec["data"]["recordingDurationMs"]);
}

TEST_F(ChunkingTest, UnwritableOutputDirectoryIsAClearError) {
  // Even root cannot create files in /proc/self/fdinfo (an existing directory).
  CommandResult r = render("/proc/self/fdinfo");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("fdinfo"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not writable"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;

  const fs::path file = *dir_ / "a-file";
  std::ofstream(file) << "x";
  r = render(file / "out");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find((file / "out").string()), std::string::npos) << r.err;
}

// Runs the binary with RLIMIT_FSIZE: a write beyond `max_file_bytes` fails with EFBIG,
// as on a full disk (callrec ignores SIGXFSZ so the write fails instead of killing it).
CommandResult render_with_file_size_limit(const std::vector<std::string>& argv, rlim_t max_file_bytes) {
  const fs::path err = fs::temp_directory_path() / ("callrec-fsize-err-" + std::to_string(getpid()));
  const pid_t pid = fork();
  if (pid == 0) {
    const rlimit limit{max_file_bytes, max_file_bytes};
    setrlimit(RLIMIT_FSIZE, &limit);
    if (!freopen(err.c_str(), "w", stderr)) _exit(126);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(err);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(err);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), "", text};
}

TEST_F(ChunkingTest, FileSizeLimitIsAClearErrorNamingTheFile) {
  const fs::path out = *dir_ / "fsize";
  const CommandResult r = render_with_file_size_limit(
      {CALLREC_BINARY, "render", (*dir_ / "call.json").string(), "--out", out.string(), "--quiet",
       "--max-chunk-bytes", std::to_string(kSmallLimit)},
      100'000);
  EXPECT_EQ(r.exit_code, 1) << "killed by SIGXFSZ instead of failing cleanly? " << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(".mp4"), std::string::npos) << "names the file: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  EXPECT_FALSE(fs::exists(out / "recording.json")) << "a failed recording is not presented as complete";
  expect_published_chunks_intact(out);
}

TEST_F(ChunkingTest, FullDiskIsAClearErrorAndFinishedChunksStayIntact) {
  // A 700 kB tmpfs in a private mount namespace: room for one or two finished chunks
  // (each needs its fragmented file and its remuxed copy at once), then ENOSPC.
  const fs::path mount_point = *dir_ / "small-disk";
  const fs::path kept = *dir_ / "full-disk-out";
  fs::create_directories(mount_point);
  fs::create_directories(kept);
  const std::string script = "mount -t tmpfs -o size=700k tmpfs '" + mount_point.string() + "' || exit 200; '" +
                             CALLREC_BINARY + "' render '" + (*dir_ / "call.json").string() + "' --out '" +
                             (mount_point / "out").string() + "' --quiet --max-chunk-bytes " +
                             std::to_string(kSmallLimit) + "; rc=$?; cp -a '" + (mount_point / "out").string() +
                             "/.' '" + kept.string() + "/'; exit $rc";
  CommandResult r = run_command({"/usr/bin/unshare", "-rm", "/bin/sh", "-c", script});
  if (r.exit_code == 200 || r.exit_code == 127 || r.err.find("unshare:") != std::string::npos) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << r.err << "); the file-size-limit test covers the error path";
  }
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(mount_point.string()), std::string::npos) << "names the file: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  EXPECT_FALSE(fs::exists(kept / "recording.json"));
  EXPECT_GE(expect_published_chunks_intact(kept), 1u) << "the chunk finished before the disk filled";
}

}  // namespace
}  // namespace callrec::testing
