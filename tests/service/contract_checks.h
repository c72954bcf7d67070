// The contract checks the service's tests apply to what they downloaded (CONTRACT §1):
// each chunk decoded (H.264 1920x1080 yuv420p 8 fps + AAC-LC 16 kHz mono, moov before
// mdat, a keyframe first, timestamps from 0), its metadata's fields and types, and the
// chunk's SHA-256 as its metadata states it.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "decoded_media.h"

extern "C" struct AVFrame;

namespace callrec::testing {

struct ChunkExpectations {
  std::string document_id;
  int index = 0;
  std::string call_id;
};

// gtest expectations on one downloaded chunk and its metadata; returns the decoded
// chunk (audio, stream info). `on_picture` sees every picture.
DecodedChunk check_chunk_contract(const std::filesystem::path& mp4, const nlohmann::json& metadata,
                                  const ChunkExpectations& expected,
                                  const std::function<void(int64_t, const AVFrame&)>& on_picture = {});

// The lowercase hex SHA-256 of a file.
std::string file_sha256_hex(const std::filesystem::path& file);

}  // namespace callrec::testing
