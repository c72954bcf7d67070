#include "callrec/service/chunk_store.h"

#include <algorithm>
#include <cctype>

namespace callrec::service {

namespace fs = std::filesystem;

bool is_valid_document_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

void ChunkStore::scan_recording(const std::string& recording_id, const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path& p = entry.path();
    const std::string stem = p.stem().string();
    if (p.extension() != ".json" || stem == "recording" || !is_valid_document_id(stem)) continue;
    const fs::path media = dir / (stem + ".mp4");
    if (!fs::is_regular_file(media, ec)) continue;
    const auto mtime = fs::last_write_time(p, ec);
    if (ec) continue;
    const auto stored_at = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
        std::chrono::file_clock::to_sys(mtime));
    std::lock_guard lock(mu_);
    chunks_[stem] = StoredChunk{stem, recording_id, media, p, stored_at};
  }
}

void ChunkStore::add(const std::string& recording_id, const fs::path& dir, const std::string& document_id,
                     std::chrono::system_clock::time_point now) {
  if (!is_valid_document_id(document_id)) return;
  std::lock_guard lock(mu_);
  chunks_[document_id] = StoredChunk{document_id, recording_id, dir / (document_id + ".mp4"),
                                     dir / (document_id + ".json"), now};
}

std::optional<StoredChunk> ChunkStore::find(std::string_view document_id) const {
  std::lock_guard lock(mu_);
  const auto it = chunks_.find(document_id);
  if (it == chunks_.end()) return std::nullopt;
  return it->second;
}

void ChunkStore::delete_files(const StoredChunk& c) {
  // The metadata first: a chunk without its metadata is not listed at the next scan.
  std::error_code ec;
  fs::remove(c.metadata, ec);
  fs::remove(c.media, ec);
}

bool ChunkStore::remove(std::string_view document_id) {
  std::optional<StoredChunk> chunk;
  {
    std::lock_guard lock(mu_);
    const auto it = chunks_.find(document_id);
    if (it == chunks_.end()) return false;
    chunk = std::move(it->second);
    chunks_.erase(it);
  }
  delete_files(*chunk);
  return true;
}

std::vector<std::string> ChunkStore::sweep(std::chrono::system_clock::time_point now) {
  std::vector<StoredChunk> expired;
  {
    std::lock_guard lock(mu_);
    for (auto it = chunks_.begin(); it != chunks_.end();) {
      if (now - it->second.stored_at >= retention_) {
        expired.push_back(std::move(it->second));
        it = chunks_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::vector<std::string> ids;
  for (const auto& c : expired) {
    delete_files(c);
    ids.push_back(c.document_id);
  }
  return ids;
}

size_t ChunkStore::count(std::string_view recording_id) const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(chunks_.begin(), chunks_.end(),
                                           [&](const auto& kv) { return kv.second.recording_id == recording_id; }));
}

}  // namespace callrec::service
