// callrec recover DIR
//
// Completes a recording that a crash (or SIGKILL, or power loss) interrupted: the chunk
// that was being written becomes a regular MP4 with its metadata marked "recovered",
// and recording.json is written with sessionEndReason "RecoveredAfterCrash".
// Exit status: 0 recovered, 1 nothing to recover / not a recording / failure.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "callrec/core/error.h"
#include "callrec/muxer/recovery.h"
#include "command.h"

namespace callrec::cli {

CommandRunner add_recover_command(CLI::App& app) {
  auto dir = std::make_shared<std::filesystem::path>();
  CLI::App* recover = app.add_subcommand("recover", "Complete a recording interrupted by a crash");
  recover->add_option("dir", *dir, "The interrupted recording's output directory")->required();

  return [recover, dir]() -> int {
    if (!recover->parsed()) return -1;
    try {
      std::error_code ec;
      if (!std::filesystem::is_directory(*dir, ec)) throw Error(dir->string() + ": not a directory");
      const std::optional<nlohmann::json> notification = muxer::recover_recording(*dir);
      if (!notification) {
        const bool finished = std::filesystem::exists(*dir / "recording.json", ec);
        throw Error(dir->string() + (finished ? ": the recording is complete; nothing to recover"
                                              : ": not an interrupted recording (no chunk state file)"));
      }
      const nlohmann::json& data = (*notification)["data"];
      const auto& chunks = data["recordingStorageInfo"]["recordingChunks"];
      std::cerr << "recovered " << chunks.size() << " chunk(s), " << data["recordingDurationMs"].get<int64_t>()
                << " ms of media; wrote " << (*dir / "recording.json").string() << "\n";
      for (const auto& c : chunks) {
        const std::filesystem::path metadata = *dir / (c["documentId"].get<std::string>() + ".json");
        bool recovered = false;
        try {
          std::ifstream in(metadata);
          recovered = nlohmann::json::parse(in).value("recovered", false);
        } catch (const nlohmann::json::exception&) {
        }
        std::cout << (*dir / (c["documentId"].get<std::string>() + ".mp4")).string()
                  << (recovered ? " (recovered)" : "") << "\n";
      }
    } catch (const std::exception& e) {
      std::cerr << "callrec: error: " << e.what() << "\n";
      return 1;
    }
    return 0;
  };
}

}  // namespace callrec::cli
