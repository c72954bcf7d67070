// callrec report DIR [--out FILE]
//
// Writes one self-contained HTML page showing what the recording in DIR holds (contact
// sheet, participant timeline, audio level, chunks, problems; docs/report.md). The page
// is written to a temporary name and renamed into place.
// Exit status: 0 written, 1 not a recording / cannot write.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "callrec/core/error.h"
#include "callrec/core/random_id.h"
#include "callrec/report/report.h"
#include "command.h"

extern "C" {
#include <libavutil/log.h>
}

namespace callrec::cli {

CommandRunner add_report_command(CLI::App& app) {
  struct Options {
    std::filesystem::path dir;
    std::filesystem::path out;
    int max_pictures = report::ReportOptions{}.max_pictures;
    bool no_verify = false;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("report", "Write an HTML page showing what a recording holds");
  cmd->add_option("dir", o->dir, "The recording's output directory")->required();
  cmd->add_option("--out", o->out, "The page to write (default: DIR/report.html)");
  cmd->add_option("--max-pictures", o->max_pictures, "Most pictures on the contact sheet")
      ->check(CLI::Range(1, 5000))
      ->capture_default_str();
  cmd->add_flag("--no-verify", o->no_verify, "Do not hash the chunks to check their SHA-256");
  cmd->add_flag("--quiet", o->quiet, "Print nothing but errors");

  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    // Damaged media makes the decoders log; the page reports it instead.
    av_log_set_level(AV_LOG_QUIET);
    try {
      const auto start = std::chrono::steady_clock::now();
      report::ReportFacts facts;
      const std::string html = report::make_report_html(
          o->dir, report::ReportOptions{.max_pictures = o->max_pictures, .verify_sha256 = !o->no_verify}, &facts);
      const std::filesystem::path out = o->out.empty() ? o->dir / "report.html" : o->out;
      const std::filesystem::path temp = out.parent_path() / ("." + out.filename().string() + "." + random_hex_128());
      {
        std::ofstream f(temp, std::ios::binary | std::ios::trunc);
        f.write(html.data(), static_cast<std::streamsize>(html.size()));
        f.close();
        if (!f) {
          std::error_code ignored;
          std::filesystem::remove(temp, ignored);
          throw Error(out.string() + ": cannot write");
        }
      }
      std::error_code ec;
      std::filesystem::rename(temp, out, ec);
      if (ec) {
        std::filesystem::remove(temp, ec);
        throw Error(out.string() + ": cannot rename into place");
      }
      if (!o->quiet) {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "report: %d chunk(s), %d pictures (%d frames decoded), %d finding(s), %.1f kB, %.2f s\n",
                     facts.chunks, facts.pictures, facts.frames_decoded, facts.findings, html.size() / 1e3, seconds);
      }
      std::cout << out.string() << "\n";
    } catch (const std::exception& e) {
      std::cerr << "callrec: error: " << e.what() << "\n";
      return 1;
    }
    return 0;
  };
}

}  // namespace callrec::cli
