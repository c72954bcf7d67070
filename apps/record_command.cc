// callrec record --out DIR --participant ID=FILE.sdp [...] [--duration S]
//
// Records a live call from RTP (docs/contract.md, "Live ingest"; docs/ingest.md): each SDP
// file describes one participant's streams as `ffmpeg -sdp_file` writes them (the m=
// ports are where callrec listens). SIGINT or SIGTERM (or --duration) ends the recording
// cleanly: the last chunk and recording.json are written, exit 0.
//
// Every description is read and every port bound before the recording starts: a bad
// SDP gets one line "callrec: error: FILE: what is wrong", exit 1, and nothing is written.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "callrec/core/error.h"
#include "callrec/core/random_id.h"
#include "callrec/live_ingest.h"
#include "callrec/session.h"
#include "command.h"

namespace callrec::cli {
namespace {

struct ParticipantArg {
  std::string id;
  std::filesystem::path sdp_file;
  std::string sdp;
};

// "ID=FILE.sdp": split, the file read (it must exist and be small). Throws Error naming
// the argument or the file.
ParticipantArg read_participant(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    throw Error("--participant \"" + arg + "\": expected ID=FILE.sdp");
  ParticipantArg p{arg.substr(0, eq), arg.substr(eq + 1), {}};
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p.sdp_file, ec))
    throw Error(p.sdp_file.string() + ": " + (std::filesystem::exists(p.sdp_file, ec) ? "not a file" : "no such file"));
  std::ifstream in(p.sdp_file, std::ios::binary);
  if (!in) throw Error(p.sdp_file.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  p.sdp = text.str();
  return p;
}

// Whether `dir` already holds a recording (recording.json or a chunk's state).
bool holds_recording(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir / "recording.json", ec)) return true;
  if (!std::filesystem::is_directory(dir, ec)) return false;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    if (name.ends_with(".mp4") || name.ends_with(".state.json")) return true;
  }
  return false;
}

const char* stream_name(const LiveIngest::StreamAnswer& s) {
  return s.audio ? "audio" : (s.screen_share ? "screen share" : "camera");
}

}  // namespace

CommandRunner add_record_command(CLI::App& app) {
  struct Options {
    std::filesystem::path out_dir;
    std::vector<std::string> participants;
    std::optional<double> duration_s;
    std::string call_id;
    std::optional<uint64_t> max_chunk_bytes;
    int video_bitrate_bps = 1'000'000;
    int audio_bitrate_bps = 48'000;
    int video_lookahead_frames = 0;
    int video_bframes = 0;
    int jitter_window_ms = 200;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* record = app.add_subcommand("record", "Record a live call sent as RTP (one SDP per participant)");
  record->add_option("--out", o->out_dir, "Output directory for chunks and metadata")->required();
  record->add_option("--participant", o->participants,
                     "ID=FILE.sdp: a participant and the SDP of their streams (the m= ports are where callrec "
                     "listens); repeat for each participant")
      ->required();
  record->add_option("--duration", o->duration_s, "Stop after this many seconds (default: at SIGINT or SIGTERM)")
      ->check(CLI::Range(0.1, 1e7));
  record->add_option("--call-id", o->call_id, "The call's id in the metadata (default: a random one)");
  record->add_option("--max-chunk-bytes", o->max_chunk_bytes, "Largest chunk size in bytes (default: 512 MiB)")
      ->check(CLI::Range(uint64_t{65536}, uint64_t{1} << 62));
  record->add_option("--video-bitrate", o->video_bitrate_bps, "H.264 bit rate in bit/s")
      ->check(CLI::Range(100'000, 20'000'000))
      ->capture_default_str();
  record->add_option("--audio-bitrate", o->audio_bitrate_bps, "AAC bit rate in bit/s")
      ->check(CLI::Range(8'000, 160'000))
      ->capture_default_str();
  record->add_option("--video-lookahead", o->video_lookahead_frames,
                     "H.264 rate-control lookahead in pictures (0: zerolatency; N holds N x 125 ms more)")
      ->check(CLI::Range(0, 16))
      ->capture_default_str();
  record->add_option("--video-bframes", o->video_bframes, "H.264 B-frames between reference pictures")
      ->check(CLI::Range(0, 3))
      ->capture_default_str();
  record->add_option("--jitter-window", o->jitter_window_ms,
                     "How late media may arrive (ms) and still be placed where it belongs; output lags by this")
      ->check(CLI::Range(20, 5000))
      ->capture_default_str();
  record->add_flag("--quiet,-q", o->quiet, "Print nothing but errors and warnings");

  return [record, o]() -> int {
    if (!record->parsed()) return -1;
    // SIGINT/SIGTERM are taken by sigtimedwait() below: blocked before any thread starts,
    // so every thread of the session and the ingest inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    // Every file read and parsed first: one line for the first bad one, nothing written.
    std::vector<ParticipantArg> participants;
    try {
      std::set<std::string> ids;
      for (const std::string& arg : o->participants) {
        participants.push_back(read_participant(arg));
        if (!ids.insert(participants.back().id).second)
          throw Error("--participant " + participants.back().id + ": the id is given twice");
      }
      if (holds_recording(o->out_dir))
        throw Error(o->out_dir.string() + ": already holds a recording; choose another --out");
    } catch (const std::exception& e) {
      std::cerr << "callrec: error: " << e.what() << "\n";
      return 1;
    }

    std::atomic<LiveIngest*> ingest_for_events{nullptr};
    std::atomic<bool> failed{false};
    SessionConfig config{
        .out_dir = o->out_dir,
        .call_id = o->call_id.empty() ? random_uuid_v4() : o->call_id,
        .max_chunk_bytes = o->max_chunk_bytes.value_or(512ULL * 1024 * 1024),
        .video_bitrate_bps = o->video_bitrate_bps,
        .audio_bitrate_bps = o->audio_bitrate_bps,
        .video_lookahead_frames = o->video_lookahead_frames,
        .video_bframes = o->video_bframes,
        .jitter_window = std::chrono::milliseconds(o->jitter_window_ms),
        .on_event =
            [&](const SessionEvent& e) {
              if (LiveIngest* ingest = ingest_for_events.load()) ingest->on_session_event(e);
              if (e.kind == SessionEventKind::kError) {
                std::cerr << "callrec: error: " << e.message << "\n";
                failed = true;
              }
            },
        .log = log_sink()};
    auto session = std::make_unique<Session>(std::move(config));
    auto ingest = std::make_unique<LiveIngest>(*session);
    ingest_for_events = ingest.get();
    // Joined and bound before start(): every bad description (or port that cannot be
    // bound) gets its line, and then nothing is written.
    int bad = 0;
    std::string listening;
    for (const ParticipantArg& p : participants) {
      const LiveIngest::Added added = ingest->add_participant(p.id, p.sdp, p.id);
      if (!added.status.ok()) {
        std::cerr << "callrec: error: " << p.sdp_file.string() << ": " << added.status.message() << "\n";
        ++bad;
        continue;
      }
      for (const auto& s : added.streams)
        listening += p.id + ": " + stream_name(s) + " on " + s.address + " port " + std::to_string(s.rtp_port) +
                     " (RTCP " + std::to_string(s.rtcp_port) + ")\n";
    }
    if (bad) {
      ingest_for_events = nullptr;
      ingest.reset();
      session.reset();  // never started: nothing was written
      return 1;
    }
    if (!o->quiet) std::cerr << listening;
    const Session::Started started = session->start("record");
    if (!started.status.ok()) {
      std::cerr << "callrec: error: " << o->out_dir.string() << ": " << started.status.message() << "\n";
      return 1;
    }
    if (!o->quiet) std::fprintf(stderr, "recording %s into %s; Ctrl-C stops\n", started.recording_id.c_str(),
                                o->out_dir.string().c_str());

    // Until a stop signal, the duration, or an output failure.
    const auto begin = std::chrono::steady_clock::now();
    int signal_number = 0;
    while (!failed) {
      auto wait = std::chrono::milliseconds(200);
      if (o->duration_s) {
        const auto left = std::chrono::duration<double>(*o->duration_s) - (std::chrono::steady_clock::now() - begin);
        if (left <= std::chrono::duration<double>::zero()) break;
        wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(left));
      }
      const timespec timeout{static_cast<time_t>(wait.count() / 1000), static_cast<long>(wait.count() % 1000) * 1'000'000};
      siginfo_t info;
      const int s = sigtimedwait(&stop_signals, &info, &timeout);
      if (s > 0) {
        signal_number = s;
        break;
      }
    }
    if (!o->quiet && signal_number)
      std::fprintf(stderr, "%s: stopping\n", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    (void)session->stop("record");
    const Status finished = session->wait();
    // After wait() no event comes: the ingest may go (its sockets close), then the session.
    ingest_for_events = nullptr;
    std::vector<std::pair<std::string, std::vector<LiveIngest::StreamStats>>> stats;
    for (const ParticipantArg& p : participants) stats.emplace_back(p.id, ingest->stats(p.id));
    ingest.reset();
    session.reset();
    if (!finished.ok()) {
      std::cerr << "callrec: error: the recording failed: " << finished.message() << "\n";
      return 1;
    }
    if (!o->quiet) {
      for (const auto& [id, streams] : stats) {
        int64_t received = 0, lost = 0, dropped = 0, held = 0;
        for (const auto& s : streams) {
          received += s.packets_received;
          lost += s.packets_lost;
          dropped += s.packets_dropped;
          held += s.frames_held_for_keyframe;
        }
        std::fprintf(stderr, "%s: %lld packets, %lld lost, %lld dropped, %lld frames held for a key frame\n",
                     id.c_str(), static_cast<long long>(received), static_cast<long long>(lost),
                     static_cast<long long>(dropped), static_cast<long long>(held));
      }
    }
    // The chunks, one a line, as `callrec render` prints them.
    std::error_code ec;
    std::vector<std::filesystem::path> chunks;
    for (const auto& f : std::filesystem::directory_iterator(o->out_dir, ec))
      if (f.path().extension() == ".mp4" && !f.path().filename().string().starts_with(".")) chunks.push_back(f.path());
    std::sort(chunks.begin(), chunks.end());
    for (const auto& c : chunks) std::cout << c.string() << "\n";
    return 0;
  };
}

}  // namespace callrec::cli
