// ChunkStore: what is listed, and retention.
#include "callrec/service/chunk_store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace callrec::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(ChunkStore, ListsFinishedChunksOnlyAndDeletesThemAfterTheRetentionTime) {
  const fs::path dir = fs::temp_directory_path() / ("callrec_store_test_" + std::to_string(std::random_device()()));
  fs::create_directories(dir);
  auto touch = [&](const std::string& name) { std::ofstream(dir / name) << "x"; };
  touch("aaaa-000000.mp4");
  touch("aaaa-000000.json");
  touch("aaaa-000001.mp4");  // being written: no metadata yet
  touch(".aaaa-000002.mp4.part");
  touch("recording.json");
  touch("bad name.json");
  ChunkStore store(48h);
  store.scan_recording("rec", dir);
  EXPECT_TRUE(store.find("aaaa-000000"));
  EXPECT_FALSE(store.find("aaaa-000001")) << "no metadata yet: not served";
  EXPECT_FALSE(store.find("recording"));
  EXPECT_EQ(store.count("rec"), 1u);

  const auto now = std::chrono::system_clock::now();
  touch("aaaa-000001.json");
  store.add("rec", dir, "aaaa-000001", now);
  EXPECT_EQ(store.count("rec"), 2u);
  EXPECT_TRUE(store.sweep(now + 47h).size() == 0);
  const auto expired = store.sweep(now + 48h + 1s);
  EXPECT_EQ(expired.size(), 2u);
  EXPECT_FALSE(store.find("aaaa-000000"));
  EXPECT_FALSE(fs::exists(dir / "aaaa-000000.mp4"));
  EXPECT_FALSE(fs::exists(dir / "aaaa-000001.json"));
  EXPECT_FALSE(store.remove("aaaa-000000"));
  fs::remove_all(dir);
}

TEST(ChunkStore, OnlyEngineDocumentIdsAreLookedUp) {
  for (const char* bad : {"", "../x", "a/b", "a.b", "a b", "%2e%2e"}) EXPECT_FALSE(is_valid_document_id(bad)) << bad;
  EXPECT_TRUE(is_valid_document_id("0123456789abcdef0123456789abcdef-000001"));
  EXPECT_FALSE(is_valid_document_id(std::string(129, 'a')));
}

}  // namespace
}  // namespace callrec::service
