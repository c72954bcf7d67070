// The official JavaScript client, really: @azure/communication-call-automation 1.5.1
// (installed from npm into the build tree by the ServiceSdk.InstallOfficialClient
// fixture) drives a whole recording of a call over HTTPS with a test certificate
// (sdk_client.js: start, getState, pause, resume, stop, the events, every chunk and its
// metadata downloaded whole and in ranges, a chunk deleted). This test then checks the
// downloaded chunks against the contract.
//
// PHASE 1: the participants join through the participants route without media, so the
// recording shows their placeholder tiles and is silent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "callrec/compositor/placeholder.h"
#include "callrec/compositor/tile_layout.h"
#include "callrec/conversation_id.h"
#include "contract_checks.h"
#include "decoded_media.h"
#include "run_command.h"
#include "service_process.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;

int distance(const Yuv& a, const compositor::YuvColour& b) {
  return std::abs(a.y - b.y) + std::abs(a.u - b.u) + std::abs(a.v - b.v);
}

// The placeholder colours seen off-centre in each tile of an n-tile grid (clear of the
// initials drawn in the middle).
std::vector<Yuv> tile_colours(const AVFrame& f, int n) {
  std::vector<Yuv> out;
  for (const auto& t : compositor::tile_layout(n, {1920, 1080}))
    out.push_back(pixel_at(f, t.x + t.width / 6, t.y + t.height / 6));
  return out;
}

bool shows_placeholders(const std::vector<Yuv>& seen, const std::vector<std::string>& ids) {
  if (seen.size() != ids.size()) return false;
  for (const auto& id : ids) {
    const auto colour = compositor::placeholder_colour(id);
    if (std::none_of(seen.begin(), seen.end(), [&](const Yuv& y) { return distance(y, colour) <= 12; })) return false;
  }
  return true;
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
  setenv("NODE_EXTRA_CA_CERTS", (work / "tls.crt").c_str(), 1);
  setenv("NODE_PATH", CALLREC_SDK_NODE_MODULES, 1);
  const CommandResult sdk = run_command({CALLREC_NODE, CALLREC_SDK_SCRIPT, CALLREC_BINARY, work.string()});
  ASSERT_EQ(sdk.exit_code, 0) << "the client failed:\n" << sdk.out << sdk.err;

  const nlohmann::json summary = read_json(work / "summary.json");
  EXPECT_EQ(summary["states"], nlohmann::json({"active", "inactive", "active", "inactive"}))
      << "RecordingStateChanged: start, pause, resume, stop";
  const nlohmann::json& data = summary["data"];
  const int64_t duration_ms = data["recordingDurationMs"].get<int64_t>();
  // 2.5 + 1.5 s recorded, 1 s paused, 2 + 1 s recorded (plus the requests' own time).
  EXPECT_GE(duration_ms, 6500);
  EXPECT_LE(duration_ms, 9500);
  EXPECT_EQ(data["sessionEndReason"], "RecordingStopped");
  const std::string call_id = conversation_id_from_url("https://conversations.example/conversations/sdk-test");

  const auto& chunks = summary["chunks"];
  // Live sessions code at a constant quality under their ceiling: the placeholder tiles
  // of this 7 s call took between 32 and 64 KiB (one chunk under the former 64 KiB limit).
  ASSERT_GE(chunks.size(), 2u) << "a 32 KiB chunk limit cuts a 7 s recording";
  double total_ms = 0;
  int pauses = 0;
  bool two_placeholders = false;
  bool last_two = false;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    SCOPED_TRACE(c["documentId"].get<std::string>());
    const nlohmann::json metadata = read_json(c["metadata"].get<std::string>());
    const bool first = i == 0;
    const bool last = i + 1 == chunks.size();
    int64_t pictures = 0;
    std::vector<Yuv> at_one_second;
    std::vector<Yuv> last_picture;
    const DecodedChunk d = check_chunk_contract(
        c["file"].get<std::string>(), metadata,
        {.document_id = c["documentId"], .index = c["index"].get<int>(), .call_id = call_id},
        [&](int64_t index, const AVFrame& f) {
          ++pictures;
          if (first && index == 8) at_one_second = tile_colours(f, 2);
          if (last) last_picture = tile_colours(f, 2);
        });
    total_ms += metadata["chunkDuration"].get<double>();
    pauses += static_cast<int>(metadata["pauseResumeIntervals"].size());
    for (const auto& p : metadata["pauseResumeIntervals"]) EXPECT_NEAR(p["duration"].get<double>(), 1000, 400);
    EXPECT_LT(rms(d.audio), 0.01) << "nobody sent sound: silence";
    if (first) two_placeholders = shows_placeholders(at_one_second, {"8:acs:ada", "8:acs:grace"});
    // Grace left before the stop: Ada and Katherine remain.
    if (last) last_two = shows_placeholders(last_picture, {"8:acs:ada", "8:acs:katherine"});
    EXPECT_EQ(c["endReason"], last ? "SessionEnded" : "ChunkMaximumSizeExceeded");
  }
  EXPECT_EQ(pauses, 1) << "the one pause is listed in the chunk it fell in";
  EXPECT_NEAR(total_ms, static_cast<double>(duration_ms), 250) << "chunks add up to the recording";
  EXPECT_TRUE(two_placeholders) << "1 s in: Ada's and Grace's placeholder tiles";
  EXPECT_TRUE(last_two) << "at the end: Ada's and Katherine's placeholder tiles";

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
