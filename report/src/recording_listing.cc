#include "recording_listing.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "callrec/core/error.h"
#include "callrec/core/wall_clock.h"

namespace callrec::report {
namespace {

namespace fs = std::filesystem;

// A chunk JSON lists every participant's activity; hours of short turns make it a few
// MB. Anything far beyond is not a file callrec wrote.
constexpr uintmax_t kMaxJsonBytes = 64ull * 1024 * 1024;
// Times read from the metadata are clamped to this (two days) before any arithmetic, so
// absurd values cannot overflow it.
constexpr int64_t kMaxMs = 48LL * 3600 * 1000;

bool valid_document_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// The parsed object, or nullopt with a finding.
std::optional<nlohmann::json> read_json_object(const fs::path& path, std::vector<std::string>& findings) {
  std::error_code ec;
  if (fs::is_symlink(path, ec)) {
    findings.push_back(path.filename().string() + ": a symbolic link; not read");
    return std::nullopt;
  }
  if (!fs::is_regular_file(path, ec)) {
    findings.push_back(path.filename().string() + ": missing");
    return std::nullopt;
  }
  if (fs::file_size(path, ec) > kMaxJsonBytes) {
    findings.push_back(path.filename().string() + ": larger than " + std::to_string(kMaxJsonBytes) + " bytes; not read");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    findings.push_back(path.filename().string() + ": not a JSON object");
    return std::nullopt;
  }
  return j;
}

// An integer field; a float is truncated, and anything beyond +-2^62 is clamped there.
std::optional<int64_t> int_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  constexpr double kLimit = 4.6e18;
  if (it->is_number_float()) return static_cast<int64_t>(std::clamp(it->get<double>(), -kLimit, kLimit));
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(kLimit)) return static_cast<int64_t>(kLimit);
  return it->get<int64_t>();
}

std::optional<int64_t> time_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  const auto t = parse_iso8601(it->get<std::string>());
  return t ? std::optional(t->unix_us) : std::nullopt;
}

}  // namespace

std::optional<int64_t> ChunkListing::wall_us_at(int64_t ms) const {
  if (!start_wall_us) return std::nullopt;
  int64_t wall = *start_wall_us + ms * 1000;
  for (const auto& [start, length] : pauses_wall_us)
    if (start <= wall) wall += length;
  return wall;
}

std::string RecordingListing::chunk_field(const char* key) const {
  for (const ChunkListing& c : chunks) {
    const auto it = c.metadata.find(key);
    if (it != c.metadata.end() && it->is_string()) return it->get<std::string>();
  }
  return "";
}

RecordingListing read_recording_listing(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string() + ": not a directory");
  RecordingListing out;
  out.dir = dir;

  // Chunks by index: from recording.json when there is one (with their end reasons),
  // and from the chunk JSONs present (a recording still being written, or cut short).
  std::map<int, ChunkListing> by_index;
  if (fs::exists(dir / "recording.json", ec)) {
    out.notification = read_json_object(dir / "recording.json", out.findings);
    if (out.notification) {
      const nlohmann::json* list = nullptr;
      try {
        list = &out.notification->at("data").at("recordingStorageInfo").at("recordingChunks");
      } catch (const nlohmann::json::exception&) {
        out.findings.push_back("recording.json: no data.recordingStorageInfo.recordingChunks");
      }
      if (list && list->is_array()) {
        for (const nlohmann::json& c : *list) {
          const std::string id = c.value("documentId", "");
          const auto index = int_field(c, "index");
          if (!valid_document_id(id) || !index || *index < 0 || *index > 1'000'000) {
            out.findings.push_back("recording.json: a chunk entry without a valid documentId and index");
            continue;
          }
          ChunkListing& chunk = by_index[static_cast<int>(*index)];
          chunk.document_id = id;
          chunk.index = static_cast<int>(*index);
          if (c.contains("endReason") && c["endReason"].is_string()) chunk.end_reason = c["endReason"];
        }
      }
    }
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path& p = entry.path();
    const std::string stem = p.stem().string();
    if (p.extension() != ".json" || stem == "recording" || !valid_document_id(stem)) continue;
    if (std::any_of(by_index.begin(), by_index.end(), [&](const auto& c) { return c.second.document_id == stem; }))
      continue;
    std::vector<std::string> ignored;
    const auto meta = read_json_object(p, ignored);
    if (!meta || meta->value("chunkDocumentId", "") != stem) continue;  // not a chunk's metadata
    const auto index = int_field(*meta, "chunkIndex");
    if (!index || *index < 0 || *index > 1'000'000 || by_index.count(static_cast<int>(*index))) continue;
    ChunkListing& chunk = by_index[static_cast<int>(*index)];
    chunk.document_id = stem;
    chunk.index = static_cast<int>(*index);
  }
  if (by_index.empty() && !out.notification)
    throw Error(dir.string() + ": no recording here (neither recording.json nor chunk metadata)");

  int64_t at_ms = 0;
  for (auto& [index, chunk] : by_index) {
    chunk.mp4 = dir / (chunk.document_id + ".mp4");
    if (auto meta = read_json_object(dir / (chunk.document_id + ".json"), out.findings)) chunk.metadata = std::move(*meta);
    if (!chunk.end_reason && chunk.metadata.contains("endReason") && chunk.metadata["endReason"].is_string())
      chunk.end_reason = chunk.metadata["endReason"];
    if (const auto frames = int_field(chunk.metadata, "videoFrames"); frames && *frames >= 0)
      chunk.duration_ms = std::min(*frames, kMaxMs / 125) * 125;
    else if (const auto ms = int_field(chunk.metadata, "chunkDuration"); ms && *ms >= 0)
      chunk.duration_ms = std::min(*ms, kMaxMs);
    chunk.start_ms = at_ms;
    at_ms += chunk.duration_ms;
    chunk.start_wall_us = time_field(chunk.metadata, "chunkStartTime");
    if (chunk.metadata.contains("pauseResumeIntervals") && chunk.metadata["pauseResumeIntervals"].is_array()) {
      for (const nlohmann::json& p : chunk.metadata["pauseResumeIntervals"]) {
        const auto start = time_field(p, "startTime");
        const auto length = int_field(p, "duration");
        if (start && length) chunk.pauses_wall_us.emplace_back(*start, std::clamp<int64_t>(*length, 0, kMaxMs) * 1000);
      }
      std::sort(chunk.pauses_wall_us.begin(), chunk.pauses_wall_us.end());
    }
    out.chunks.push_back(std::move(chunk));
  }
  int expected = 0;
  for (const ChunkListing& c : out.chunks) {
    if (c.index != expected)
      out.findings.push_back(c.index == expected + 1 ? "chunk " + std::to_string(expected) + " is missing"
                                                     : "chunks " + std::to_string(expected) + " to " +
                                                           std::to_string(c.index - 1) + " are missing");
    expected = c.index + 1;
  }
  return out;
}

}  // namespace callrec::report
