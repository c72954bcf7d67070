#include "report_page.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "callrec/core/wall_clock.h"
#include "html_text.h"

namespace callrec::report {
namespace {

// The timeline and the level graph share one horizontal scale, so they line up.
constexpr double kWidth = 1200;
constexpr double kLabelWidth = 210;
constexpr double kRightPad = 16;
constexpr double kPlotWidth = kWidth - kLabelWidth - kRightPad;

constexpr const char* kStyle = R"(
body{font:14px/1.4 "DejaVu Sans",Arial,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:4px 16px 14px;margin-top:16px}
dl.summary{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 16px;margin:8px 0}
dl.summary dt{color:#5b6475}dl.summary dd{margin:0;font-weight:600;overflow-wrap:anywhere}
code{font:12px "DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
.findings{background:#fff4e5;border:1px solid #f0b45a;border-radius:6px;padding:6px 14px;margin-top:12px}
.findings li{margin:2px 0}
svg{display:block;width:100%;height:auto}
svg text{font-family:"DejaVu Sans",Arial,sans-serif}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle;border-radius:2px}
.sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:8px}
.sheet figure{margin:0;background:#1d2330;border-radius:4px;overflow:hidden}
.sheet img{display:block;width:100%;height:auto;aspect-ratio:16/9}
.sheet figcaption{color:#e8ebf0;font-size:12px;padding:2px 6px;display:flex;justify-content:space-between}
.sheet .chunk-start{grid-column:1/-1;font-weight:600;border-left:4px solid #4062bb;padding:2px 8px;background:#eef2fb}
.sheet .pause-mark{display:flex;flex-direction:column;justify-content:center;align-items:center;border:2px dashed #d9480f;
  border-radius:4px;color:#a8380b;font-size:12px;text-align:center;min-height:90px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e3e6eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
td.num{text-align:right;white-space:nowrap}
.bar{width:120px;height:8px;background:#e3e6eb;border-radius:4px;overflow:hidden;margin-top:3px}
.bar span{display:block;height:100%;background:#4062bb}
.bar span.full{background:#d9480f}
.ok{color:#1e7b3a;font-weight:600}.bad{color:#c0261b;font-weight:600}.muted{color:#6b7385}
.nonzero{color:#c0261b;font-weight:600}
)";

struct KindStyle {
  const char* label;
  const char* colour;
};
constexpr KindStyle kKinds[kActivityKinds] = {
    {"in call", "#8fa9c8"}, {"camera", "#3d9a5b"}, {"screen share", "#8a5cc2"}, {"speaking", "#e08a1e"}};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// A name cut to `max_chars` characters, not inside a UTF-8 sequence.
std::string shortened(const std::string& s, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == max_chars) return s.substr(0, i) + "…";
  }
  return s;
}

std::string wall_text(std::optional<int64_t> wall_us, bool with_ms = false) {
  return wall_us ? format_time_of_day(*wall_us, with_ms) : "?";
}

class Page {
 public:
  explicit Page(const ReportPageInput& in)
      : in_(in), listing_(*in.listing), story_(*in.story), duration_ms_(std::max<int64_t>(1, listing_.duration_ms())) {}

  std::string render() {
    const std::string call_id = listing_.chunk_field("callId");
    out_ << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
         << "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
         << "<title>Recording " << html_escape(call_id.empty() ? listing_.dir.filename().string() : call_id)
         << " — callrec report</title><style>" << kStyle << "</style></head><body><main>\n";
    summary(call_id);
    timeline();
    audio_levels();
    contact_sheet();
    chunk_table();
    problems_and_stats();
    out_ << "</main></body></html>\n";
    return out_.str();
  }

 private:
  double x(int64_t ms) const {
    return kLabelWidth + kPlotWidth * static_cast<double>(std::clamp<int64_t>(ms, 0, duration_ms_)) /
                             static_cast<double>(duration_ms_);
  }

  // ---- summary -------------------------------------------------------------------
  void summary(const std::string& call_id) {
    const nlohmann::json* data = nullptr;
    if (listing_.notification && listing_.notification->contains("data") && (*listing_.notification)["data"].is_object())
      data = &(*listing_.notification)["data"];
    auto data_string = [&](const char* key) -> std::string {
      return data && data->contains(key) && (*data)[key].is_string() ? (*data)[key].get<std::string>() : "";
    };
    int64_t bytes = 0;
    for (const ChunkCheck& c : in_.checks) bytes += c.file_bytes.value_or(0);
    std::optional<int64_t> first_wall, last_wall;
    if (!listing_.chunks.empty()) {
      first_wall = listing_.chunks.front().wall_us_at(0);
      last_wall = listing_.chunks.back().wall_us_at(listing_.chunks.back().duration_ms);
    }
    out_ << "<h1>Recording of call <code>" << html_escape(call_id.empty() ? "?" : call_id) << "</code></h1>\n";
    out_ << "<dl class=\"summary\">";
    item("Recording id", "<code>" + html_escape(listing_.chunk_field("recordingId")) + "</code>");
    item("Resource id", "<code>" + html_escape(listing_.chunk_field("resourceId")) + "</code>");
    const std::string start = data_string("recordingStartTime");
    item("Started (UTC)", html_escape(!start.empty() ? start : first_wall ? format_iso8601(WallClock{*first_wall}) : "?"));
    item("Ended (UTC)", last_wall ? html_escape(format_iso8601(WallClock{*last_wall})) : "?");
    item("Media", html_escape(format_media_time(listing_.duration_ms(), true)) + " (paused time removed)");
    int64_t paused_ms = 0;
    for (const PauseMark& p : story_.pauses) paused_ms += p.duration_ms;
    item("Paused", story_.pauses.empty() ? "never"
                                         : std::to_string(story_.pauses.size()) + " time(s), " +
                                               html_escape(format_duration(paused_ms)));
    item("Chunks", std::to_string(listing_.chunks.size()) + ", " + html_escape(format_bytes(bytes)));
    item("Participants", std::to_string(story_.participants.size()));
    const std::string end = data_string("sessionEndReason");
    item("Session end", listing_.notification ? html_escape(end.empty() ? "?" : end)
                                              : "<span class=\"bad\">no recording.json</span> (still being "
                                                "written, or cut short: see <code>callrec recover</code>)");
    item("Directory", "<code>" + html_escape(listing_.dir.string()) + "</code>");
    out_ << "</dl>\n";
    if (!in_.findings.empty()) {
      out_ << "<div class=\"findings\" id=\"findings\"><b>Found while reading the recording</b><ul>";
      for (const std::string& f : in_.findings) out_ << "<li>" << html_escape(f) << "</li>";
      out_ << "</ul></div>\n";
    }
  }

  void item(const std::string& term, const std::string& html) {
    out_ << "<dt>" << html_escape(term) << "</dt><dd>" << html << "</dd>";
  }

  // ---- shared SVG pieces ----------------------------------------------------------
  void time_axis(std::ostringstream& svg, double top, double bottom) const {
    static constexpr int64_t kSteps[] = {1000,    2000,    5000,      10'000,    15'000,    30'000,    60'000,
                                         120'000, 300'000, 600'000,   900'000,   1'800'000, 3'600'000, 7'200'000};
    int64_t step = kSteps[std::size(kSteps) - 1];
    for (const int64_t s : kSteps)
      if (duration_ms_ / s <= 12) {
        step = s;
        break;
      }
    for (int64_t t = 0; t <= duration_ms_; t += step) {
      svg << "<line x1=\"" << num(x(t)) << "\" y1=\"" << num(top) << "\" x2=\"" << num(x(t)) << "\" y2=\""
          << num(bottom) << "\" stroke=\"#e6e9ee\"/>";
      svg << "<text x=\"" << num(x(t)) << "\" y=\"" << num(top - 3) << "\" font-size=\"11\" fill=\"#5b6475\" "
          << "text-anchor=\"" << (x(t) > kWidth - kRightPad - 20 ? "end" : "middle") << "\">" << format_media_time(t)
          << "</text>";
    }
  }

  // Chunk boundaries (dashed) and pauses (orange), with their labels above `top`.
  void boundaries(std::ostringstream& svg, double top, double bottom, bool labels) const {
    for (const ChunkListing& c : listing_.chunks) {
      if (c.index == 0 && c.start_ms == 0) continue;
      svg << "<line class=\"chunk-boundary\" data-ms=\"" << c.start_ms << "\" x1=\"" << num(x(c.start_ms)) << "\" y1=\""
          << num(top) << "\" x2=\"" << num(x(c.start_ms)) << "\" y2=\"" << num(bottom)
          << "\" stroke=\"#4062bb\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"><title>chunk " << c.index
          << " starts at " << format_media_time(c.start_ms, true) << "</title></line>";
      if (labels)
        svg << "<text x=\"" << num(x(c.start_ms) + 3) << "\" y=\"" << num(top + 10) << "\" font-size=\"10\" "
            << "fill=\"#4062bb\">chunk " << c.index << "</text>";
    }
    for (const PauseMark& p : story_.pauses) {
      svg << "<line class=\"pause\" data-ms=\"" << p.at_ms << "\" data-duration-ms=\"" << p.duration_ms << "\" x1=\""
          << num(x(p.at_ms)) << "\" y1=\"" << num(top) << "\" x2=\"" << num(x(p.at_ms)) << "\" y2=\"" << num(bottom)
          << "\" stroke=\"#d9480f\" stroke-width=\"2\"><title>paused " << html_escape(format_duration(p.duration_ms))
          << " from " << html_escape(format_time_of_day(p.wall_start_us, true)) << "</title></line>";
      if (labels)
        svg << "<text x=\"" << num(x(p.at_ms) + 3) << "\" y=\"" << num(top + 21) << "\" font-size=\"10\" "
            << "fill=\"#d9480f\">pause " << html_escape(format_duration(p.duration_ms)) << "</text>";
    }
  }

  // ---- timeline -------------------------------------------------------------------
  void timeline() {
    constexpr double kTop = 40, kLane = 11, kLaneGap = 3, kNameRow = 16, kRowGap = 12;
    const double row_height = kNameRow + static_cast<int>(kActivityKinds) * (kLane + kLaneGap) + kRowGap;
    const bool problem_row = std::any_of(story_.problems.begin(), story_.problems.end(),
                                         [](const ProblemMark& p) { return p.at_ms.has_value(); });
    const double height = kTop + 6 + row_height * static_cast<double>(story_.participants.size()) +
                          (problem_row ? 24 : 0) + 6;
    out_ << "<section id=\"timeline\"><h2>Timeline</h2><div class=\"legend\">";
    for (const KindStyle& k : kKinds) out_ << "<span><i style=\"background:" << k.colour << "\"></i>" << k.label << "</span>";
    out_ << "<span><i style=\"background:#4062bb\"></i>chunk boundary</span>"
         << "<span><i style=\"background:#d9480f\"></i>pause</span>"
         << (problem_row ? "<span><i style=\"background:#c0261b\"></i>media problem</span>" : "") << "</div>\n";
    std::ostringstream svg;
    svg << "<svg id=\"timeline-svg\" viewBox=\"0 0 " << kWidth << " " << num(height) << "\" role=\"img\" "
        << "aria-label=\"participants over the recording\">";
    time_axis(svg, kTop + 2, height - 4);
    double y = kTop + 6;
    for (const ParticipantStory& p : story_.participants) {
      const std::string name = p.display_name.empty() ? p.participant_id : p.display_name;
      svg << "<g class=\"participant\" data-participant=\"" << html_escape(p.participant_id) << "\">";
      svg << "<text x=\"4\" y=\"" << num(y + 12) << "\" font-size=\"13\" font-weight=\"600\">"
          << html_escape(shortened(name, 26)) << "<title>" << html_escape(p.participant_id) << "</title></text>";
      if (!p.display_name.empty())
        svg << "<text x=\"" << num(kLabelWidth) << "\" y=\"" << num(y + 12) << "\" font-size=\"11\" fill=\"#6b7385\">"
            << html_escape(shortened(p.participant_id, 60)) << "</text>";
      for (int k = 0; k < kActivityKinds; ++k) {
        const double lane_y = y + kNameRow + k * (kLane + kLaneGap);
        svg << "<text x=\"" << num(kLabelWidth - 8) << "\" y=\"" << num(lane_y + 9) << "\" font-size=\"10\" "
            << "fill=\"#5b6475\" text-anchor=\"end\">" << kKinds[k].label << "</text>";
        svg << "<rect x=\"" << num(kLabelWidth) << "\" y=\"" << num(lane_y) << "\" width=\"" << num(kPlotWidth)
            << "\" height=\"" << num(kLane) << "\" fill=\"#f1f3f6\"/>";
        // One group per lane holds who and what; each stretch is a rect with its times
        // (an hour of speaking turns is thousands of them: each is kept short).
        svg << "<g class=\"lane\" data-participant=\"" << html_escape(p.participant_id) << "\" data-kind=\""
            << activity_field(static_cast<ActivityKind>(k)) << "\" fill=\"" << kKinds[k].colour
            << "\" transform=\"translate(0," << num(lane_y) << ")\">";
        for (const ActivitySpan& s : p.spans[k]) {
          const double x0 = x(s.start_ms), w = std::max(0.8, x(s.end_ms) - x0);
          svg << "<rect class=\"span\" data-start-ms=\"" << s.start_ms << "\" data-end-ms=\"" << s.end_ms
              << "\" x=\"" << num(x0) << "\" width=\"" << num(w) << "\" height=\"" << num(kLane) << "\"><title>"
              << format_media_time(s.start_ms, true) << "–" << format_media_time(s.end_ms, true) << ", "
              << wall_text(s.start_wall_us) << "–" << wall_text(s.end_wall_us) << " UTC"
              << (p.presence_from_participant_list && k == kPresent ? ", from the chunk's participant list" : "")
              << "</title></rect>";
        }
        svg << "</g>";
      }
      svg << "</g>";
      y += row_height;
    }
    if (problem_row) {
      svg << "<text x=\"" << num(kLabelWidth - 8) << "\" y=\"" << num(y + 12) << "\" font-size=\"10\" "
          << "fill=\"#c0261b\" text-anchor=\"end\">media problems</text>";
      for (const ProblemMark& p : story_.problems) {
        if (!p.at_ms) continue;
        const double px = x(*p.at_ms);
        svg << "<path class=\"problem\" data-ms=\"" << *p.at_ms << "\" d=\"M" << num(px) << " " << num(y + 2) << " l5 12 h-10 z\" "
            << "fill=\"#c0261b\"><title>" << format_media_time(*p.at_ms, true) << " (" << wall_text(p.wall_us, true)
            << "): " << html_escape(p.text) << "</title></path>";
      }
    }
    boundaries(svg, 2, height - 4, true);
    svg << "</svg>";
    out_ << svg.str();
    if (std::any_of(story_.participants.begin(), story_.participants.end(),
                    [](const ParticipantStory& p) { return p.presence_from_participant_list; }))
      out_ << "<p class=\"muted\">Some chunks carry no <code>participantActivity</code> (written before callrec "
              "recorded it, or recovered after a crash): presence there is the chunk's participant list, for the "
              "whole chunk; camera, screen share and speaking are unknown.</p>";
    if (story_.participants.empty()) out_ << "<p class=\"muted\">No participant is listed in the metadata.</p>";
    out_ << "</section>\n";
  }

  // ---- audio level ----------------------------------------------------------------
  void audio_levels() {
    out_ << "<section id=\"audio-level\"><h2>Mixed audio level</h2>\n";
    const AudioLevels* lv = in_.levels;
    if (!lv || lv->samples() == 0) {
      out_ << "<p class=\"bad\">No audio could be decoded from the chunks.</p></section>\n";
      return;
    }
    constexpr double kTop = 30, kPlot = 110, kFloorDb = -60;
    const double height = kTop + kPlot + 8;
    auto y = [&](double db) { return kTop + kPlot * std::clamp(-db / -kFloorDb, 0.0, 1.0); };
    std::ostringstream svg;
    svg << "<svg id=\"level-svg\" viewBox=\"0 0 " << kWidth << " " << num(height) << "\" role=\"img\" "
        << "aria-label=\"mixed audio level over the recording\">";
    for (const double db : {0.0, -20.0, -40.0, -60.0}) {
      svg << "<line x1=\"" << num(kLabelWidth) << "\" y1=\"" << num(y(db)) << "\" x2=\"" << num(kWidth - kRightPad)
          << "\" y2=\"" << num(y(db)) << "\" stroke=\"#e6e9ee\"/><text x=\"" << num(kLabelWidth - 8) << "\" y=\""
          << num(y(db) + 4) << "\" font-size=\"10\" fill=\"#5b6475\" text-anchor=\"end\">" << static_cast<int>(db)
          << " dBFS</text>";
    }
    auto polygon = [&](bool peak, const char* colour, const char* cls) {
      svg << "<path class=\"" << cls << "\" fill=\"" << colour << "\" d=\"M" << num(x(0)) << " " << num(y(kFloorDb));
      for (size_t i = 0; i < lv->bins(); ++i) {
        const double db = peak ? lv->peak_db(i) : lv->rms_db(i);
        const double v = std::isfinite(db) ? y(db) : y(kFloorDb);
        const int64_t a = static_cast<int64_t>(i) * lv->bin_ms();
        svg << " L" << num(x(a)) << " " << num(v) << " L" << num(x(a + lv->bin_ms())) << " " << num(v);
      }
      svg << " L" << num(x(duration_ms_)) << " " << num(y(kFloorDb)) << " Z\"/>";
    };
    polygon(true, "#9fc3e8", "peak");
    polygon(false, "#2f6db3", "rms");
    int64_t silent = 0, loud_bins = 0;
    double sum_power = 0;
    int64_t counted = 0;
    for (size_t i = 0; i < lv->bins(); ++i) {
      if (!lv->has_audio(i)) continue;
      ++counted;
      const double rms = lv->rms_db(i);
      if (!std::isfinite(rms) || rms < -50) ++silent;
      if (std::isfinite(rms)) sum_power += std::pow(10.0, rms / 10);
      if (lv->peak_db(i) > -0.1) {
        ++loud_bins;
        const int64_t a = static_cast<int64_t>(i) * lv->bin_ms();
        svg << "<rect class=\"clip\" x=\"" << num(x(a)) << "\" y=\"" << num(kTop - 6) << "\" width=\""
            << num(std::max(1.0, x(a + lv->bin_ms()) - x(a))) << "\" height=\"5\" fill=\"#c0261b\"><title>full scale at "
            << format_media_time(a) << "</title></rect>";
      }
    }
    boundaries(svg, kTop - 26, height - 4, false);
    svg << "</svg>";
    out_ << svg.str();
    const double mean_db = counted > 0 && sum_power > 0 ? 10 * std::log10(sum_power / static_cast<double>(counted)) : -INFINITY;
    const double silent_pct = counted > 0 ? 100.0 * static_cast<double>(silent) / static_cast<double>(counted) : 100;
    out_ << "<p>Dark: RMS, light: peak, per " << html_escape(format_duration(lv->bin_ms())) << ". Mean level "
         << (std::isfinite(mean_db) ? num(mean_db) + " dBFS" : "silent") << "; below −50 dBFS "
         << num(silent_pct) << " % of the time; " << lv->clipped_samples() << " samples at full scale"
         << (lv->damaged_packets() > 0 ? "; " + std::to_string(lv->damaged_packets()) + " audio packets undecodable" : "")
         << ".";
    if (silent_pct >= 99.9) out_ << " <span class=\"bad\">The mix is silent throughout.</span>";
    if (loud_bins > 0) out_ << " <span class=\"bad\">The mix reaches full scale (red marks): it may clip there.</span>";
    out_ << "</p></section>\n";
  }

  // ---- contact sheet --------------------------------------------------------------
  void contact_sheet() {
    out_ << "<section id=\"contact-sheet\"><h2>Contact sheet</h2><p class=\"muted\">A picture about every "
         << html_escape(format_duration(in_.picture_interval_ms))
         << " (the keyframe nearest to each time, when one is close): recording time, and UTC time of day.</p>"
         << "<div class=\"sheet\">\n";
    size_t next_pause = 0;
    size_t pic = 0;
    for (const ChunkListing& c : listing_.chunks) {
      out_ << "<div class=\"chunk-start\" data-chunk=\"" << c.index << "\">Chunk " << c.index << " · "
           << format_media_time(c.start_ms) << " – " << format_media_time(c.start_ms + c.duration_ms) << " · from "
           << wall_text(c.wall_us_at(0)) << " UTC · <code>" << html_escape(c.document_id) << "</code></div>\n";
      bool any = false;
      for (; pic < in_.pictures.size() && in_.pictures[pic].chunk_index == c.index; ++pic) {
        const SheetPicture& p = in_.pictures[pic];
        for (; next_pause < story_.pauses.size() && story_.pauses[next_pause].at_ms <= p.at_ms; ++next_pause)
          pause_cell(story_.pauses[next_pause]);
        out_ << "<figure data-ms=\"" << p.at_ms << "\"><img alt=\"picture at " << format_media_time(p.at_ms, true)
             << "\" width=\"" << in_.picture_width << "\" height=\"" << (in_.picture_width * 9 / 16) << "\" src=\"" << data_uri("image/jpeg", p.jpeg) << "\"><figcaption><b>"
             << format_media_time(p.at_ms) << "</b><span>" << wall_text(p.wall_us) << "</span></figcaption></figure>\n";
        any = true;
      }
      for (; next_pause < story_.pauses.size() && story_.pauses[next_pause].chunk_index == c.index; ++next_pause)
        pause_cell(story_.pauses[next_pause]);
      if (!any) out_ << "<div class=\"pause-mark\">no picture could be decoded from this chunk</div>\n";
    }
    out_ << "</div></section>\n";
  }

  void pause_cell(const PauseMark& p) {
    out_ << "<div class=\"pause-mark\" data-ms=\"" << p.at_ms << "\"><b>paused " << html_escape(format_duration(p.duration_ms))
         << "</b>" << format_time_of_day(p.wall_start_us) << " → "
         << format_time_of_day(p.wall_start_us + p.duration_ms * 1000) << "</div>\n";
  }

  // ---- chunks ---------------------------------------------------------------------
  void chunk_table() {
    out_ << "<section id=\"chunks\"><h2>Chunks</h2><table><thead><tr><th>#</th><th>document</th><th>starts (UTC)</th>"
            "<th>duration</th><th>size / budget</th><th>video</th><th>audio</th><th>end reason</th><th>SHA-256</th>"
            "</tr></thead><tbody>\n";
    for (size_t i = 0; i < listing_.chunks.size(); ++i) {
      const ChunkListing& c = listing_.chunks[i];
      const ChunkCheck& check = in_.checks[i];
      const nlohmann::json& m = c.metadata;
      out_ << "<tr data-chunk=\"" << c.index << "\"><td>" << c.index << (m.value("recovered", false) ? " (recovered)" : "")
           << "</td><td><code>" << html_escape(c.document_id) << "</code></td><td>"
           << wall_text(c.wall_us_at(0), true) << "</td><td class=\"num\">" << format_media_time(c.duration_ms, true);
      if (m.contains("videoFrames") && m["videoFrames"].is_number_integer())
        out_ << "<br><span class=\"muted\">" << m["videoFrames"].get<int64_t>() << " frames</span>";
      out_ << "</td><td>";
      if (!check.file_bytes) {
        out_ << "<span class=\"bad\">.mp4 missing</span>";
      } else {
        const int64_t budget = m.contains("maxChunkBytes") && m["maxChunkBytes"].is_number_integer()
                                   ? m["maxChunkBytes"].get<int64_t>()
                                   : 0;
        out_ << html_escape(format_bytes(*check.file_bytes));
        if (budget > 0) {
          const double pct = 100.0 * static_cast<double>(*check.file_bytes) / static_cast<double>(budget);
          out_ << " of " << html_escape(format_bytes(budget)) << " (" << num(pct) << " %)"
               << "<div class=\"bar\"><span" << (pct > 100 ? " class=\"full\"" : "") << " style=\"width:"
               << num(std::min(100.0, pct)) << "%\"></span></div>";
          if (pct > 100) out_ << "<span class=\"bad\">over the budget</span>";
        } else {
          out_ << "<br><span class=\"muted\">budget not in the metadata</span>";
        }
        const int64_t meta_size = m.contains("sizeBytes") && m["sizeBytes"].is_number_integer() ? m["sizeBytes"].get<int64_t>() : -1;
        if (meta_size >= 0 && meta_size != *check.file_bytes)
          out_ << "<br><span class=\"bad\">metadata says " << meta_size << " bytes</span>";
      }
      out_ << "</td><td class=\"num\">" << rate_cell(check.streams ? std::optional(check.streams->video) : std::nullopt, c,
                                                     m, "videoConfiguration")
           << "</td><td class=\"num\">"
           << rate_cell(check.streams ? std::optional(check.streams->audio) : std::nullopt, c, m, "audioConfiguration")
           << "</td><td>" << html_escape(c.end_reason.value_or("?")) << "</td><td>" << sha_cell(check, m) << "</td></tr>\n";
    }
    out_ << "</tbody></table></section>\n";
  }

  static std::string rate_cell(std::optional<int64_t> bytes, const ChunkListing& c, const nlohmann::json& m,
                               const char* config) {
    std::string out = bytes && c.duration_ms > 0
                          ? num(static_cast<double>(*bytes) * 8 / static_cast<double>(c.duration_ms)) + " kbit/s"
                          : "?";
    if (m.contains("recordingInfo") && m["recordingInfo"].is_object() && m["recordingInfo"].contains(config) &&
        m["recordingInfo"][config].is_object() && m["recordingInfo"][config].contains("bitRate") &&
        m["recordingInfo"][config]["bitRate"].is_number())
      out += "<br><span class=\"muted\">set " + num(m["recordingInfo"][config]["bitRate"].get<double>() / 1000) + "</span>";
    return out;
  }

  static std::string sha_cell(const ChunkCheck& check, const nlohmann::json& m) {
    const std::string expected = m.contains("sha256") && m["sha256"].is_string() ? m["sha256"].get<std::string>() : "";
    if (!check.problem.empty()) return "<span class=\"bad\">" + html_escape(check.problem) + "</span>";
    if (!check.sha256) return "<span class=\"muted\">not checked</span>";
    const std::string got = "<code>" + check.sha256->substr(0, 16) + "…</code>";
    if (expected.empty()) return got + "<br><span class=\"muted\">none in the metadata</span>";
    if (expected == *check.sha256) return "<span class=\"ok sha-ok\">✓ matches the file</span><br>" + got;
    return "<span class=\"bad sha-bad\">✗ differs</span><br>file " + got + "<br>metadata <code>" +
           html_escape(expected.substr(0, 16)) + "…</code>";
  }

  // ---- problems and statistics ----------------------------------------------------
  void problems_and_stats() {
    out_ << "<section id=\"problems\"><h2>Media problems</h2>\n";
    if (story_.problems.empty()) {
      out_ << "<p class=\"ok\">The metadata lists no media problem.</p>";
    } else {
      out_ << "<table><thead><tr><th>when</th><th>problem</th></tr></thead><tbody>\n";
      for (const ProblemMark& p : story_.problems) {
        out_ << "<tr class=\"problem-row\"><td>";
        if (p.at_ms) {
          out_ << format_media_time(*p.at_ms, true) << "<br><span class=\"muted\">" << wall_text(p.wall_us, true) << "</span>";
        } else {
          const ChunkListing* c = chunk_by_index(p.first_chunk);
          out_ << "by the end of chunk " << p.first_chunk;
          if (c)
            out_ << "<br><span class=\"muted\">" << format_media_time(c->start_ms) << " – "
                 << format_media_time(c->start_ms + c->duration_ms) << "</span>";
        }
        out_ << "</td><td>" << html_escape(p.text) << "</td></tr>\n";
      }
      out_ << "</tbody></table>";
    }
    out_ << "<h2>Media statistics per participant</h2>";
    if (story_.stat_totals.empty()) {
      out_ << "<p class=\"muted\">The metadata lists no statistics.</p></section>\n";
      return;
    }
    std::vector<std::string> counters;
    for (const auto& [id, values] : story_.stat_totals)
      for (const auto& [key, value] : values)
        if (std::find(counters.begin(), counters.end(), key) == counters.end()) counters.push_back(key);
    out_ << "<p class=\"muted\">Totals at the end of the last chunk. Counters other than samples received count "
            "trouble: those above zero are red.</p><div style=\"overflow-x:auto\"><table id=\"stats\"><thead><tr>"
            "<th>participant</th>";
    for (const std::string& k : counters) out_ << "<th>" << html_escape(k) << "</th>";
    out_ << "</tr></thead><tbody>\n";
    for (const auto& [id, values] : story_.stat_totals) {
      out_ << "<tr><td><code>" << html_escape(id) << "</code></td>";
      for (const std::string& k : counters) {
        const auto it = values.find(k);
        const bool trouble = it != values.end() && it->second != 0 && k != "audioSamplesReceived";
        out_ << "<td class=\"num" << (trouble ? " nonzero" : "") << "\">"
             << (it == values.end() ? "" : std::to_string(it->second)) << "</td>";
      }
      out_ << "</tr>\n";
    }
    out_ << "</tbody></table></div>\n";
    std::vector<const StatChange*> trouble;
    for (const StatChange& s : story_.stat_changes)
      if (s.counter != "audioSamplesReceived") trouble.push_back(&s);
    if (!trouble.empty() && listing_.chunks.size() > 1) {
      out_ << "<h3>When the counters grew</h3><table><thead><tr><th>chunk (recording time)</th><th>participant</th>"
              "<th>counter</th><th>increase</th></tr></thead><tbody>\n";
      for (const StatChange* s : trouble) {
        const ChunkListing* c = chunk_by_index(s->chunk_index);
        out_ << "<tr><td>" << s->chunk_index;
        if (c) out_ << " (" << format_media_time(c->start_ms) << " – " << format_media_time(c->start_ms + c->duration_ms) << ")";
        out_ << "</td><td><code>" << html_escape(s->participant_id) << "</code></td><td>" << html_escape(s->counter)
             << "</td><td class=\"num\">+" << s->increase << "</td></tr>\n";
      }
      out_ << "</tbody></table>\n";
    }
    out_ << "</section>\n";
  }

  const ChunkListing* chunk_by_index(int index) const {
    for (const ChunkListing& c : listing_.chunks)
      if (c.index == index) return &c;
    return nullptr;
  }

  const ReportPageInput& in_;
  const RecordingListing& listing_;
  const RecordingStory& story_;
  const int64_t duration_ms_;
  std::ostringstream out_;
};

}  // namespace

std::string render_report_page(const ReportPageInput& in) { return Page(in).render(); }

}  // namespace callrec::report
