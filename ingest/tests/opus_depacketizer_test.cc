#include "callrec/ingest/opus_depacketizer.h"

#include <gtest/gtest.h>

#include <vector>

namespace callrec::ingest {
namespace {

TEST(OpusDepacketizerTest, DurationFromTheToc) {
  struct Row {
    std::vector<uint8_t> packet;
    std::optional<int> samples;
  };
  const std::vector<Row> rows = {
      {{0x08}, 960},                   // SILK NB 20 ms, code 0 (a DTX frame: no payload)
      {{0x00, 1, 2}, 480},             // SILK 10 ms
      {{0x18, 1}, 2880},               // SILK 60 ms
      {{0x78, 1}, 960},                // hybrid FB 20 ms
      {{0x70, 1}, 480},                // hybrid FB 10 ms
      {{0xf8, 1}, 960},                // CELT FB 20 ms
      {{0xe0, 1}, 120},                // CELT 2.5 ms
      {{0xf9, 1, 1}, 1920},            // code 1: two frames
      {{0xfb, 0x03, 1}, 2880},         // code 3: three 20 ms frames
      {{0xfb, 0x06, 1}, 5760},         // six: 120 ms
      {{0xfb, 0x07, 1}, std::nullopt}, // seven: 140 ms, too long
      {{0xfb, 0x00}, std::nullopt},    // code 3 with no frames
      {{0xfb}, std::nullopt},          // code 3 without its count byte
      {{}, std::nullopt},
  };
  for (const Row& r : rows) EXPECT_EQ(OpusDepacketizer::duration_48k(r.packet), r.samples) << int(r.packet.empty() ? -1 : r.packet[0]);
}

}  // namespace
}  // namespace callrec::ingest
