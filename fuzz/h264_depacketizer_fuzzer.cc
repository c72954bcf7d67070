// libFuzzer: RFC 6184 payloads into H264Depacketizer (see depacketizer_fuzzer_main.h),
// with parameter sets as an SDP's sprop-parameter-sets gives them.
#include "callrec/ingest/h264_depacketizer.h"
#include "depacketizer_fuzzer_main.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::vector<uint8_t>> kParameterSets = {{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00},
                                                                   {0x68, 0xcb, 0x83, 0xcb, 0x20}};
  callrec::ingest::H264Depacketizer depacketizer(kParameterSets);
  run_depacketizer(depacketizer, data, size);
  return 0;
}
