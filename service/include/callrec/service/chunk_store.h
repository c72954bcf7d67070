// The chunks the service serves, found by documentId, and their retention.
//
// A chunk is listed once its metadata JSON exists: the engine writes the .mp4 completely
// and then renames the .json into place, so a listed chunk is never half-written. The
// recording directories are scanned at start (a chunk's age is then its metadata file's
// modification time) and chunks are added as the engine reports them. A chunk older than
// the retention time is deleted (both files) by sweep(); remove() deletes one at once.
// Downloads open the file before answering, so a chunk deleted while it is being sent
// is still sent completely (the open file outlives the name).
//
// Threading: every method may be called from any thread (one mutex).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace callrec::service {

struct StoredChunk {
  std::string document_id;
  std::string recording_id;
  std::filesystem::path media;     // <documentId>.mp4
  std::filesystem::path metadata;  // <documentId>.json
  std::chrono::system_clock::time_point stored_at;
};

// documentIds are the engine's: [A-Za-z0-9_-], 1-128 characters. Anything else is
// refused before any lookup.
bool is_valid_document_id(std::string_view id);

class ChunkStore {
 public:
  explicit ChunkStore(std::chrono::seconds retention) : retention_(retention) {}

  // Lists the finished chunks of one recording's output directory.
  void scan_recording(const std::string& recording_id, const std::filesystem::path& dir);
  // A chunk the engine has just finished (its metadata is written).
  void add(const std::string& recording_id, const std::filesystem::path& dir, const std::string& document_id,
           std::chrono::system_clock::time_point now);

  std::optional<StoredChunk> find(std::string_view document_id) const;
  // Deletes the chunk's files; false when it is not stored.
  bool remove(std::string_view document_id);
  // Deletes every chunk older than the retention time; returns their documentIds.
  std::vector<std::string> sweep(std::chrono::system_clock::time_point now);
  // How many chunks of `recording_id` are still stored.
  size_t count(std::string_view recording_id) const;
  std::chrono::seconds retention() const { return retention_; }

 private:
  static void delete_files(const StoredChunk& c);

  const std::chrono::seconds retention_;
  mutable std::mutex mu_;
  std::map<std::string, StoredChunk, std::less<>> chunks_;  // guarded by mu_
};

}  // namespace callrec::service
