// libFuzzer: RFC 7741 payloads into Vp8Depacketizer (see depacketizer_fuzzer_main.h).
#include "callrec/ingest/vp8_depacketizer.h"
#include "depacketizer_fuzzer_main.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  callrec::ingest::Vp8Depacketizer depacketizer;
  run_depacketizer(depacketizer, data, size);
  return 0;
}
