// callrec report: one self-contained HTML page that shows what a recording holds.
//
// For the recording in a directory callrec wrote (CONTRACT §1): a contact sheet (a
// picture every few seconds, labelled with recording and wall-clock time, chunk
// boundaries and pauses marked), a timeline per participant (present, camera, screen
// share, speaking, from the chunk metadata's "participantActivity"), the mixed audio's
// level over time, each chunk's size against the budget, duration, bit rates, end reason
// and SHA-256 checked against the file, and every media problem and mixer statistic the
// metadata lists. Everything is inline (pictures as data: URIs, CSS, SVG; no script):
// the page makes no network request when opened. See docs/report.md.
//
// Threading: make_report_html() uses only the calling thread and shares no state, so a
// service may make reports on several threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace callrec::report {

struct ReportOptions {
  // The contact sheet shows at most this many pictures; the spacing is the shortest of
  // 2, 5, 10, 15, 20, 30 s, 1, 2, 5, 10 min that keeps within it.
  int max_pictures = 200;
  // Pixels; the height keeps 16:9. The sheet shows them about 200 px wide; 256 leaves
  // room to zoom, at about 8 kB a picture.
  int picture_width = 256;
  // Hash every chunk to check the SHA-256 its metadata carries (reads every byte).
  bool verify_sha256 = true;
};

struct ReportFacts {
  int pictures = 0;        // on the contact sheet
  int frames_decoded = 0;  // video frames decoded to make them
  int chunks = 0;
  int sha256_mismatches = 0;
  int findings = 0;        // files unreadable, chunks missing, damaged media
};

// The report page of the recording in `recording_dir`. Throws callrec::Error when the
// directory is not a recording (no recording.json and no chunk metadata); anything
// damaged inside one (an unreadable chunk, a wrong digest) is shown in the page.
std::string make_report_html(const std::filesystem::path& recording_dir, const ReportOptions& options = {},
                             ReportFacts* facts = nullptr);

}  // namespace callrec::report
