// The callrec process keeps libx264 off transparent huge pages unless --huge-pages asks
// (docs/performance.md: ~4 MiB of resident memory per encoder, no speed difference).
// Seen from outside, as an operator would: the kernel's THP_enabled of the process.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <optional>
#include <string>

#include "decoded_media.h"
#include "service_process.h"

namespace callrec::testing {
namespace {

namespace fs = std::filesystem;

// The THP_enabled line of /proc/PID/status (Linux 5.0 and later), or nullopt.
std::optional<int> thp_enabled(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("THP_enabled:")) return std::stoi(line.substr(line.find(':') + 1));
  return std::nullopt;
}

std::optional<int> thp_of_service(const std::vector<std::string>& extra) {
  const fs::path dir = fresh_dir("callrec_service_huge_pages");
  write_access_key(dir / "key");
  std::vector<std::string> args{"--storage", (dir / "storage").string(), "--access-key-file", (dir / "key").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  ServiceProcess service(CALLREC_BINARY, args);
  const std::optional<int> enabled = thp_enabled(service.pid());
  EXPECT_EQ(service.stop(SIGTERM), 0) << service.err();
  return enabled;
}

TEST(ProcessMemory, HugePagesAreOffUnlessAskedFor) {
  const std::optional<int> ours = thp_enabled(getpid());
  if (!ours) GTEST_SKIP() << "this kernel does not report THP_enabled in /proc/PID/status";
  if (*ours == 0) GTEST_SKIP() << "the test runs with huge pages already off (inherited), so callrec cannot have them";
  EXPECT_EQ(thp_of_service({}), 0) << "callrec serve leaves transparent huge pages on";
  EXPECT_EQ(thp_of_service({"--huge-pages"}), 1) << "--huge-pages did not leave them on";
}

}  // namespace
}  // namespace callrec::testing
