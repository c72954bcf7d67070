// callrec recover DIR
//
// Completes a recording that a crash (or SIGKILL, or power loss) interrupted: the chunk
// that was being written becomes a regular MP4 with its metadata marked "recovered",
// and recording.json is written with sessionEndReason "RecoveredAfterCrash". Touches
// only the recording's own files (muxer/recovery.h); says what it found on stderr.
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
    using Outcome = muxer::RecoveryReport::Outcome;
    try {
      std::error_code ec;
      if (!std::filesystem::is_directory(*dir, ec)) throw Error(dir->string() + ": not a directory");
      const muxer::RecoveryReport report = muxer::recover_recording(*dir);
      const std::string recording =
          "recording " + report.recording_id + " (call " + report.call_id + ")";
      switch (report.outcome) {
        case Outcome::kNoRecording:
          std::cerr << "callrec: error: " << dir->string()
                    << ": no callrec recording here (no chunk state file .<documentId>.state.json and no "
                       "recording.json); nothing to recover, nothing was changed\n";
          break;
        case Outcome::kAlreadyComplete:
          std::cerr << "callrec: error: " << dir->string()
                    << ": the recording is complete (recording.json); nothing to recover\n";
          break;
        case Outcome::kNothingRecoverable:
          std::cerr << "callrec: error: " << dir->string() << ": interrupted " << recording
                    << ": nothing to recover: no chunk holds media yet; its files were left as they were\n";
          break;
        case Outcome::kRecovered:
          break;
      }
      for (const std::string& line : report.findings) std::cerr << "  " << line << "\n";
      for (const auto& path : report.removed) std::cerr << "  removed " << path.filename().string() << "\n";
      if (report.outcome != Outcome::kRecovered) return 1;

      const nlohmann::json& data = (*report.notification)["data"];
      const auto& chunks = data["recordingStorageInfo"]["recordingChunks"];
      std::cerr << "recovered " << recording << ": " << chunks.size() << " chunk(s), "
                << data["recordingDurationMs"].get<int64_t>() << " ms of media; wrote "
                << (*dir / "recording.json").string() << "\n";
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
