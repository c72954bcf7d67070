// libFuzzer: the call manifest parser (engine::parse_manifest) on arbitrary text.
// Every input must end in a Manifest or a callrec::Error; anything else (another
// exception type, a crash, a sanitizer report, unbounded memory) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "callrec/core/error.h"
#include "callrec/engine/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    // A folder that does not exist: media paths are checked, never opened.
    const callrec::engine::Manifest m =
        callrec::engine::parse_manifest(text, "fuzz.json", "/nonexistent-callrec-fuzz/calls");
    if (m.participants.empty() || m.participants.size() > callrec::engine::ManifestLimits::kMaxParticipants)
      __builtin_trap();  // validated manifests always hold 1..limit participants
  } catch (const callrec::Error&) {
  }
  return 0;
}
