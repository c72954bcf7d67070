// libFuzzer: text as an SDP (SdpDescription::parse). Bad input is one line of error;
// good input is a valid description.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "callrec/core/error.h"
#include "callrec/ingest/sdp_description.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace callrec;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const ingest::ParticipantMedia media = ingest::SdpDescription::parse(text);
    if (media.streams.empty()) __builtin_trap();
    for (const auto& s : media.streams) {
      if (s.formats.empty() || s.rtp_port == 0) __builtin_trap();
      for (const auto& f : s.formats)
        for (const auto& nal : f.parameter_sets)
          if (nal.empty()) __builtin_trap();
    }
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.empty() || message.find('\n') != std::string::npos || message.size() > 400) __builtin_trap();
  }
  return 0;
}
