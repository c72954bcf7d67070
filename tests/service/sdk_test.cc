// The official JavaScript client, really: @azure/communication-call-automation 1.5.1
// (installed from npm into the build tree by the ServiceSdk.InstallOfficialClient
// fixture) drives a whole recording of a call over HTTPS with a test certificate
// (sdk_client.js: start, getState, pause, resume, stop, the events, every chunk and its
// metadata downloaded whole and in ranges, a chunk deleted). The call's participants join
// through the participants route, each with an SDP offer and an ffmpeg RTP sender (Opus +
// VP8) started once the answer is in: Ada (red, 440 Hz) and Grace (blue, 1000 Hz) before
// the recording starts, Katherine (green, 700 Hz) while it runs; Grace leaves before the
// stop. This test then checks the downloaded chunks against the contract and finds the
// senders' colours in the tiles and their tones in the mix, each while they were there.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "callrec/conversation_id.h"
#include "contract_checks.h"
#include "decoded_media.h"
#include "live_call.h"
#include "callrec/mediagen/media_generator.h"
#include "run_command.h"
#include "sender_harness.h"
#include "service_process.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;

namespace mg = callrec::mediagen;

struct Sender {
  std::string id;
  mg::Rgb rgb;
  Yuv yuv;
  double hz;
};
const Sender kAda{"8:acs:ada", {255, 0, 0}, kRed, 440};
const Sender kGrace{"8:acs:grace", {0, 0, 255}, kBlue, 1000};
const Sender kKatherine{"8:acs:katherine", {0, 255, 0}, kGreen, 700};

// Which senders' colours fill the tiles of an n-tile picture (every tile must be one).
bool shows(const AVFrame& f, const std::vector<Sender>& who) {
  const int n = static_cast<int>(who.size());
  std::vector<bool> found(who.size(), false);
  for (int i = 0; i < n; ++i) {
    const Yuv c = tile_colour(f, n, i);
    bool any = false;
    for (size_t k = 0; k < who.size(); ++k)
      if (near(c, who[k].yuv, 20)) found[k] = any = true;
    if (!any) return false;
  }
  return std::all_of(found.begin(), found.end(), [](bool b) { return b; });
}

TEST(ServiceSdkTest, WholeRecordingThroughTheOfficialClient) {
  av_log_set_level(AV_LOG_ERROR);
  const fs::path work = fresh_dir("callrec_service_sdk");
  write_access_key(work / "key");
  const CommandResult cert =
      run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                   "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout",
                   (work / "tls.key").string(), "-out", (work / "tls.crt").string()});
  ASSERT_EQ(cert.exit_code, 0) << cert.err;
  if (!ingest::test::have_program("ffmpeg")) GTEST_SKIP() << "ffmpeg is needed (scripts/lib.sh installs it)";
  // Each participant's media: a flat colour and a tone (0.3 of full scale), Opus + VP8,
  // encoded beforehand so that the senders only pace packets; 30 s, longer than the call.
  nlohmann::json participants;
  for (const Sender& p : {kAda, kGrace, kKatherine}) {
    const fs::path file = work / (p.id.substr(6) + ".webm");
    mg::write_media(file, {.duration_ms = 30000,
                           .video = mg::VideoSpec{.width = 320, .height = 240, .fps = 15, .colour = p.rgb,
                                                  .moving_square = false},
                           .audio = mg::AudioSpec{.sample_rate_hz = 48000, .tones = {{0, 30000, p.hz, 0.3}}}});
    participants[p.id] = {{"file", file.string()},
                          {"audioPort", ingest::test::free_port_pair()},
                          {"videoPort", ingest::test::free_port_pair()}};
  }
  std::ofstream(work / "participants.json") << participants.dump(2);
  setenv("NODE_EXTRA_CA_CERTS", (work / "tls.crt").c_str(), 1);
  setenv("NODE_PATH", CALLREC_SDK_NODE_MODULES, 1);
  const CommandResult sdk = run_command({CALLREC_NODE, CALLREC_SDK_SCRIPT, CALLREC_BINARY, work.string()});
  ASSERT_EQ(sdk.exit_code, 0) << "the client failed:\n" << sdk.out << sdk.err;

  const nlohmann::json summary = read_json(work / "summary.json");
  EXPECT_EQ(summary["states"], nlohmann::json({"active", "inactive", "active", "inactive"}))
      << "RecordingStateChanged: start, pause, resume, stop";
  const nlohmann::json& data = summary["data"];
  const int64_t duration_ms = data["recordingDurationMs"].get<int64_t>();
  // 3.5 + 1.5 s recorded, 1 s paused, 2 + 1 s recorded (plus the requests' own time).
  EXPECT_GE(duration_ms, 7500);
  EXPECT_LE(duration_ms, 10500);
  EXPECT_EQ(data["sessionEndReason"], "RecordingStopped");
  const std::string call_id = conversation_id_from_url("https://conversations.example/conversations/sdk-test");

  const auto& chunks = summary["chunks"];
  // Live sessions code at a constant quality under their ceiling: the placeholder tiles
  // of this 7 s call took between 32 and 64 KiB (one chunk under the former 64 KiB limit).
  ASSERT_GE(chunks.size(), 2u) << "a 32 KiB chunk limit cuts a 7 s recording";
  double total_ms = 0;
  int pauses = 0;
  // The whole recording: the chunks' audio one after the other, and per output picture
  // (125 ms each, paused time removed) who the tiles show.
  std::vector<float> audio;
  std::vector<int> ada_grace, all_three, ada_katherine;  // picture numbers
  int64_t picture = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    SCOPED_TRACE(c["documentId"].get<std::string>());
    const nlohmann::json metadata = read_json(c["metadata"].get<std::string>());
    const bool last = i + 1 == chunks.size();
    const DecodedChunk d = check_chunk_contract(
        c["file"].get<std::string>(), metadata,
        {.document_id = c["documentId"], .index = c["index"].get<int>(), .call_id = call_id},
        [&](int64_t, const AVFrame& f) {
          if (shows(f, {kAda, kGrace})) ada_grace.push_back(static_cast<int>(picture));
          if (shows(f, {kAda, kGrace, kKatherine})) all_three.push_back(static_cast<int>(picture));
          if (shows(f, {kAda, kKatherine})) ada_katherine.push_back(static_cast<int>(picture));
          ++picture;
        });
    audio.insert(audio.end(), d.audio.begin(), d.audio.end());
    total_ms += metadata["chunkDuration"].get<double>();
    pauses += static_cast<int>(metadata["pauseResumeIntervals"].size());
    for (const auto& p : metadata["pauseResumeIntervals"]) EXPECT_NEAR(p["duration"].get<double>(), 1000, 400);
    EXPECT_EQ(c["endReason"], last ? "SessionEnded" : "ChunkMaximumSizeExceeded");
  }
  EXPECT_EQ(pauses, 1) << "the one pause is listed in the chunk it fell in";
  EXPECT_NEAR(total_ms, static_cast<double>(duration_ms), 250) << "chunks add up to the recording";

  // Output time (s): Ada and Grace from 0 (their senders ran before the start: their
  // pictures once a key frame came, at most 2 s in), Katherine from ~3.5 s, the pause at
  // ~5 s (removed), Grace gone from ~7 s, the stop ~1 s later.
  const double end_s = static_cast<double>(audio.size()) / 16000;
  EXPECT_GT(tone_between(audio, kAda.hz, 0.5, 2.0), 0.05) << "Ada heard from the start";
  EXPECT_GT(tone_between(audio, kGrace.hz, 0.5, 2.0), 0.05) << "Grace heard from the start";
  EXPECT_LT(tone_between(audio, kKatherine.hz, 0.5, 3.0), 0.01) << "Katherine not yet there";
  EXPECT_GT(tone_between(audio, kKatherine.hz, 4.0, 4.8), 0.05) << "Katherine heard once she joined";
  EXPECT_GT(tone_between(audio, kAda.hz, end_s - 0.7, end_s - 0.2), 0.05) << "Ada heard to the end";
  EXPECT_GT(tone_between(audio, kKatherine.hz, end_s - 0.7, end_s - 0.2), 0.05) << "Katherine heard to the end";
  EXPECT_LT(tone_between(audio, kGrace.hz, end_s - 0.7, end_s - 0.2), 0.01) << "Grace gone";
  // Pictures: Ada's red and Grace's blue side by side before Katherine came (>= 6 of the
  // 28 pictures of [0, 3.5) s: from their first key frame on), then all three, then Ada
  // and Katherine at the end.
  const auto count_in = [](const std::vector<int>& pictures, double from_s, double to_s) {
    return std::count_if(pictures.begin(), pictures.end(),
                         [&](int p) { return p / 8.0 >= from_s && p / 8.0 < to_s; });
  };
  std::cout << "[ measured ] " << end_s << " s recorded; pictures of Ada+Grace in [0, 3.5) s: " << count_in(ada_grace, 0, 3.5)
            << ", of all three in [4, 6.5) s: " << count_in(all_three, 4.0, 6.5)
            << ", of Ada+Katherine in the last 0.7 s: " << count_in(ada_katherine, end_s - 0.7, end_s)
            << "; tones at the start 440 Hz " << tone_between(audio, kAda.hz, 0.5, 2.0) << ", 1000 Hz "
            << tone_between(audio, kGrace.hz, 0.5, 2.0) << "\n";
  EXPECT_GE(count_in(ada_grace, 0, 3.5), 6) << "Ada's and Grace's pictures before Katherine joined";
  EXPECT_GE(count_in(all_three, 4.0, 6.5), 12) << "all three pictures while all three were in the call";
  EXPECT_GE(count_in(ada_katherine, end_s - 0.7, end_s), 4) << "Ada's and Katherine's pictures at the end";
  EXPECT_EQ(count_in(ada_grace, end_s - 0.7, end_s) + count_in(all_three, end_s - 0.7, end_s), 0)
      << "Grace's picture gone at the end";

  // The deleted chunk is gone from the storage too.
  const std::string deleted = summary["deletedDocumentId"];
  const fs::path dir = work / "storage" / "recordings" / summary["recordingId"].get<std::string>();
  EXPECT_FALSE(fs::exists(dir / (deleted + ".mp4")));
  EXPECT_FALSE(fs::exists(dir / (deleted + ".json")));
  EXPECT_TRUE(fs::exists(dir / "recording.json"));
  // Every event was delivered (the webhook's first answer was a 503): none left on disk.
  size_t left = 0;
  for (const auto& e : fs::directory_iterator(work / "storage" / "outbox"))
    if (e.is_regular_file()) ++left;
  EXPECT_EQ(left, 0u) << "undelivered events in the outbox";
}

}  // namespace
}  // namespace callrec::testing
