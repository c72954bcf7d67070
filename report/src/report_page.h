// The report's HTML, from what was read and measured (report.cc gathers it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audio_levels.h"
#include "chunk_stream_reader.h"
#include "recording_listing.h"
#include "recording_story.h"

namespace callrec::report {

struct SheetPicture {
  int64_t at_ms;  // recording time
  std::optional<int64_t> wall_us;
  int chunk_index;
  std::string jpeg;
};

struct ChunkCheck {
  std::optional<int64_t> file_bytes;   // nullopt: the .mp4 is missing
  std::optional<StreamBytes> streams;  // nullopt: unreadable
  std::optional<std::string> sha256;   // computed; nullopt: not checked
  std::string problem;                 // why the file could not be read or checked
};

struct ReportPageInput {
  const RecordingListing* listing;
  const RecordingStory* story;
  const AudioLevels* levels;  // null: no audio could be read
  std::vector<SheetPicture> pictures;
  int64_t picture_interval_ms = 0;
  int picture_width = 256;  // the sheet's pictures (16:9)
  std::vector<ChunkCheck> checks;  // one per listing chunk
  std::vector<std::string> findings;
};

std::string render_report_page(const ReportPageInput& in);

}  // namespace callrec::report
