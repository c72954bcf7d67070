#include "callrec/report/report.h"

#include <algorithm>

#include "audio_levels.h"
#include "callrec/core/error.h"
#include "chunk_pictures.h"
#include "chunk_stream_reader.h"
#include "file_digest.h"
#include "recording_listing.h"
#include "recording_story.h"
#include "report_page.h"

namespace callrec::report {
namespace {

// The contact sheet's spacing: the shortest of these that keeps within max_pictures.
int64_t picture_interval_ms(int64_t duration_ms, int max_pictures) {
  static constexpr int64_t kSteps[] = {2000, 5000, 10'000, 15'000, 20'000, 30'000, 60'000, 120'000, 300'000, 600'000};
  for (const int64_t step : kSteps)
    if (duration_ms / step < std::max(1, max_pictures)) return step;
  return std::max<int64_t>(kSteps[std::size(kSteps) - 1], duration_ms / std::max(1, max_pictures) + 1);
}

// About a thousand level bins across the page, in whole output periods.
int64_t level_bin_ms(int64_t duration_ms) {
  constexpr int64_t kPeriodMs = 125;
  const int64_t periods = (duration_ms / 1000 + kPeriodMs - 1) / kPeriodMs;
  return kPeriodMs * std::max<int64_t>(1, periods);
}

}  // namespace

std::string make_report_html(const std::filesystem::path& recording_dir, const ReportOptions& options,
                             ReportFacts* facts) {
  const RecordingListing listing = read_recording_listing(recording_dir);
  const RecordingStory story = read_recording_story(listing);
  ReportPageInput page{.listing = &listing, .story = &story, .levels = nullptr};
  page.findings = listing.findings;
  ReportFacts counted;
  counted.chunks = static_cast<int>(listing.chunks.size());

  const int64_t duration_ms = listing.duration_ms();
  page.picture_interval_ms = picture_interval_ms(duration_ms, options.max_pictures);
  page.picture_width = std::clamp(options.picture_width, 16, 1920) & ~1;
  AudioLevels levels(std::max<int64_t>(1, duration_ms), level_bin_ms(duration_ms));
  bool any_audio = false;
  const PictureOptions picture_options{.width = page.picture_width,
                                       .snap_ms = page.picture_interval_ms / 2};

  for (const ChunkListing& c : listing.chunks) {
    ChunkCheck check;
    const std::string name = c.mp4.filename().string();
    std::error_code ec;
    // A chunk is a file of the directory: a link may point anywhere, and is not read.
    if (std::filesystem::is_symlink(c.mp4, ec)) {
      page.findings.push_back(name + ": a symbolic link, not a chunk file; not read");
      page.checks.push_back(check);
      continue;
    }
    if (!std::filesystem::is_regular_file(c.mp4, ec)) {
      page.findings.push_back(name + ": missing");
      page.checks.push_back(check);
      continue;
    }
    check.file_bytes = static_cast<int64_t>(std::filesystem::file_size(c.mp4, ec));
    try {
      check.streams = chunk_stream_bytes(c.mp4);
      if (options.verify_sha256) {
        check.sha256 = sha256_hex_of_file(c.mp4);
        const std::string expected = c.metadata.value("sha256", "");
        if (!expected.empty() && expected != *check.sha256) {
          ++counted.sha256_mismatches;
          page.findings.push_back(name + ": its SHA-256 differs from the one in its metadata");
        }
      }
    } catch (const Error& e) {
      check.problem = e.what();
      page.findings.push_back(e.what());
      page.checks.push_back(check);
      continue;
    }
    // The contact sheet's times that fall in this chunk.
    std::vector<int64_t> wanted;
    const int64_t step = page.picture_interval_ms;
    for (int64_t t = (c.start_ms + step - 1) / step * step; t < c.start_ms + c.duration_ms; t += step)
      wanted.push_back(t - c.start_ms);
    if (wanted.empty() && c.duration_ms > 0) wanted.push_back(0);  // a chunk shorter than the spacing
    try {
      ChunkPictures pictures = sample_chunk_pictures(c.mp4, wanted, picture_options);
      counted.frames_decoded += pictures.frames_decoded;
      if (pictures.damaged > 0)
        page.findings.push_back(name + ": " + std::to_string(pictures.damaged) + " picture(s) could not be decoded");
      for (ChunkPicture& p : pictures.pictures)
        page.pictures.push_back(SheetPicture{c.start_ms + p.ms, c.wall_us_at(p.ms), c.index, std::move(p.jpeg)});
    } catch (const Error& e) {
      page.findings.push_back(std::string("pictures: ") + e.what());
    }
    try {
      levels.add_chunk(c.mp4, c.start_ms);
      any_audio = true;
    } catch (const Error& e) {
      page.findings.push_back(std::string("audio: ") + e.what());
    }
    page.checks.push_back(std::move(check));
  }
  if (any_audio) page.levels = &levels;
  if (levels.damaged_packets() > 0)
    page.findings.push_back(std::to_string(levels.damaged_packets()) + " audio packet(s) could not be decoded");
  counted.pictures = static_cast<int>(page.pictures.size());
  counted.findings = static_cast<int>(page.findings.size());
  if (facts) *facts = counted;
  return render_report_page(page);
}

}  // namespace callrec::report
