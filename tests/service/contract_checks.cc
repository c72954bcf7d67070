#include "contract_checks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>

#include "callrec/service/crypto.h"
#include "run_command.h"

namespace callrec::testing {

std::string file_sha256_hex(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto digest = service::sha256(bytes);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (const uint8_t b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

DecodedChunk check_chunk_contract(const std::filesystem::path& mp4, const nlohmann::json& m,
                                  const ChunkExpectations& expected,
                                  const std::function<void(int64_t, const AVFrame&)>& on_picture) {
  DecodedChunk d = decode_chunk(mp4, on_picture);
  const StreamInfo& s = d.info;
  const std::string where = mp4.filename().string();
  EXPECT_EQ(s.video_codec, "h264") << where;
  EXPECT_EQ(s.width, 1920) << where;
  EXPECT_EQ(s.height, 1080) << where;
  EXPECT_EQ(s.pix_fmt, "yuv420p") << where;
  EXPECT_EQ(s.frame_rate_num, 8 * s.frame_rate_den) << where << ": " << s.frame_rate_num << "/" << s.frame_rate_den;
  EXPECT_EQ(s.audio_codec, "aac") << where;
  EXPECT_EQ(s.audio_profile, "LC") << where;
  EXPECT_EQ(s.sample_rate, 16000) << where;
  EXPECT_EQ(s.channels, 1) << where;
  const auto moov = std::find(s.top_level_boxes.begin(), s.top_level_boxes.end(), "moov");
  const auto mdat = std::find(s.top_level_boxes.begin(), s.top_level_boxes.end(), "mdat");
  EXPECT_TRUE(moov != s.top_level_boxes.end() && mdat != s.top_level_boxes.end() && moov < mdat)
      << where << ": moov before mdat (faststart)";
  EXPECT_TRUE(s.first_video_packet_key) << where;
  EXPECT_EQ(s.first_video_pts, 0) << where;
  // Audio may start up to one AAC frame in (chunks are gapless: the next one carries on
  // where the last frame of the previous one ended).
  EXPECT_GE(s.first_audio_pts, 0) << where;
  EXPECT_LE(s.first_audio_pts, 1024) << where;
  expect_plays_completely(mp4);

  // Metadata (§1.3): names and types.
  const std::regex iso(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$)");
  EXPECT_EQ(m.value("chunkDocumentId", ""), expected.document_id) << where;
  EXPECT_EQ(m.value("chunkIndex", -1), expected.index) << where;
  EXPECT_EQ(m.value("callId", ""), expected.call_id) << where;
  EXPECT_TRUE(m.contains("resourceId") && m["resourceId"].is_string()) << where;
  EXPECT_TRUE(m["chunkStartTime"].is_string() && std::regex_match(m["chunkStartTime"].get<std::string>(), iso))
      << where << ": chunkStartTime " << m["chunkStartTime"];
  EXPECT_TRUE(m["chunkDuration"].is_number()) << where;
  if (m["chunkDuration"].is_number()) {
    EXPECT_NEAR(m["chunkDuration"].get<double>(), s.duration_s * 1000, 130) << where << ": chunkDuration vs the media";
  }
  EXPECT_TRUE(m["pauseResumeIntervals"].is_array()) << where;
  for (const auto& p : m.value("pauseResumeIntervals", nlohmann::json::array())) {
    EXPECT_TRUE(p["startTime"].is_string() && std::regex_match(p["startTime"].get<std::string>(), iso)) << where;
    EXPECT_TRUE(p["duration"].is_number()) << where;
  }
  const auto& info = m["recordingInfo"];
  EXPECT_EQ(info.value("contentType", ""), "mixed") << where;
  EXPECT_EQ(info.value("channelType", ""), "audioVideo") << where;
  EXPECT_EQ(info.value("format", ""), "mp4") << where;
  EXPECT_EQ(info["audioConfiguration"].value("sampleRate", ""), "16000") << where;
  EXPECT_TRUE(info["audioConfiguration"]["bitRate"].is_number_integer()) << where;
  EXPECT_EQ(info["audioConfiguration"].value("channels", 0), 1) << where;
  EXPECT_EQ(info["videoConfiguration"].value("longerSideLength", 0), 1920) << where;
  EXPECT_EQ(info["videoConfiguration"].value("shorterSideLength", 0), 1080) << where;
  EXPECT_EQ(info["videoConfiguration"].value("framerate", 0), 8) << where;
  EXPECT_TRUE(info["videoConfiguration"]["bitRate"].is_number_integer()) << where;
  EXPECT_TRUE(m["participants"].is_array()) << where;
  for (const auto& p : m["participants"]) EXPECT_TRUE(p["participantId"].is_string()) << where;
  // The bytes are the bytes the engine wrote.
  if (m.contains("sha256")) {
    EXPECT_EQ(m["sha256"].get<std::string>(), file_sha256_hex(mp4)) << where;
  }
  return d;
}

}  // namespace callrec::testing
