#include "callrec/engine/manifest.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <vector>

#include "callrec/core/error.h"

namespace callrec::engine {
namespace {

using nlohmann::json;

// Raises "<name>: <field>: <reason>".
class Checker {
 public:
  explicit Checker(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& reason) const {
    throw Error(name_ + ": " + (field.empty() ? "" : field + ": ") + reason);
  }

  const json& require(const json& obj, const char* key, const std::string& path) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) fail(join(path, key), "required field is missing");
    return *it;
  }

  std::string string_field(const json& obj, const char* key, const std::string& path, bool required,
                           bool non_empty) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required) fail(join(path, key), "required field is missing");
      return {};
    }
    if (!it->is_string()) fail(join(path, key), "must be a string");
    std::string value = it->get<std::string>();
    if (non_empty && value.empty()) fail(join(path, key), "must not be empty");
    if (value.size() > ManifestLimits::kMaxStringBytes)
      fail(join(path, key), "is longer than " + std::to_string(ManifestLimits::kMaxStringBytes) + " bytes");
    return value;
  }

  std::optional<int64_t> integer_field(const json& obj, const char* key, const std::string& path) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (it->is_number_unsigned()) {
      const uint64_t v = it->get<uint64_t>();
      if (v > static_cast<uint64_t>(INT64_MAX / 1000)) fail(join(path, key), "is too large");
      return static_cast<int64_t>(v);
    }
    if (it->is_number_integer()) return it->get<int64_t>();
    if (it->is_number_float()) {
      const double d = it->get<double>();
      // Range first (found by fuzz_manifest): converting 1e120 to int64_t is undefined.
      if (std::isfinite(d) && std::trunc(d) == d) {
        if (std::fabs(d) > static_cast<double>(INT64_MAX / 1000)) fail(join(path, key), "is too large");
        return static_cast<int64_t>(d);
      }
    }
    fail(join(path, key), "must be an integer");
  }

  static std::string join(const std::string& path, const char* key) {
    return path.empty() ? std::string(key) : path + "." + key;
  }

 private:
  std::string name_;
};

// The keys each object of a manifest may have (docs/contract.md, "The call manifest").
constexpr std::string_view kRootKeys[] = {"callId",        "resourceId",   "recordingId", "recordingStartTime",
                                          "maxChunkBytes", "participants", "timeline"};
constexpr std::string_view kParticipantKeys[] = {"participantId", "displayName", "media"};
constexpr std::string_view kMediaKeys[] = {"file", "offsetMs", "role"};
constexpr std::string_view kTimelineKeys[] = {"atMs", "action"};

// Levenshtein distance, ignoring case ("offsetMS" is 0 from "offsetMs").
size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// A misspelt key is an error, not a silent default: "offsetMS" would place a file at 0,
// "medias" would drop a participant's media. Names the key by its path, with the
// nearest valid key when one is close (at most a third of its letters differ).
template <size_t N>
void reject_unknown_keys(const Checker& c, const json& obj, const std::string& path,
                         const std::string_view (&valid)[N]) {
  for (const auto& item : obj.items()) {
    const std::string& key = item.key();
    if (std::find(std::begin(valid), std::end(valid), key) != std::end(valid)) continue;
    std::string_view nearest;
    size_t best = std::numeric_limits<size_t>::max();
    for (std::string_view candidate : valid) {
      if (key.size() > 64) break;  // nothing valid is that long; spare the arithmetic
      const size_t d = edit_distance(key, candidate);
      if (d < best) best = d, nearest = candidate;
    }
    // A plain name as it is; anything else as a JSON string, so the message stays one
    // readable line whatever the key holds.
    const bool plain = !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '$';
    });
    const std::string shown = plain ? key : json(key.substr(0, 64)).dump() + (key.size() > 64 ? "..." : "");
    const std::string field = path.empty() ? shown : path + "." + shown;
    if (!nearest.empty() && best <= std::max<size_t>(1, std::max(key.size(), nearest.size()) / 3))
      c.fail(field, "unknown key; did you mean \"" + std::string(nearest) + "\"?");
    std::string list;
    for (size_t i = 0; i < N; ++i) list += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(valid[i]);
    c.fail(field, "unknown key (expected " + list + ")");
  }
}

// A call time in milliseconds (offsetMs, atMs): 0 .. 24 h.
int64_t call_ms_field(const Checker& c, const json& obj, const char* key, const std::string& path, int64_t absent) {
  const int64_t v = c.integer_field(obj, key, path).value_or(absent);
  if (v < 0) c.fail(Checker::join(path, key), "must not be negative, got " + std::to_string(v));
  if (v > ManifestLimits::kMaxCallMs)
    c.fail(Checker::join(path, key), "is beyond the 24 h limit of a call (" + std::to_string(v) + " ms)");
  return v;
}

bool has_extension(const std::string& file, std::initializer_list<std::string_view> extensions) {
  std::string ext = std::filesystem::path(file).extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (std::string_view e : extensions)
    if (ext == e) return true;
  return false;
}

// The media path policy (manifest.h). Returns the path to open: resolved (symlinks
// followed) when the file exists, so what is opened is what was checked.
std::filesystem::path checked_media_path(const Checker& c, const std::string& field, const std::string& file,
                                         const std::filesystem::path& base_dir) {
  namespace fs = std::filesystem;
  for (const char ch : file)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) c.fail(field, "contains a control character");
  const std::string quoted = "\"" + file + "\"";
  const std::string first_component = file.substr(0, file.find('/'));
  if (file.find("://") != std::string::npos || first_component.find(':') != std::string::npos)
    c.fail(field, quoted + " is a URL or protocol; only plain files relative to the manifest are read");
  const fs::path path(file);
  if (path.is_absolute())
    c.fail(field, quoted + " is an absolute path; media paths must be relative to the manifest's folder");
  for (const fs::path& part : path)
    if (part == "..") c.fail(field, quoted + " contains \"..\"; media must lie inside the manifest's folder");
  if (has_extension(file, {".m3u8", ".m3u", ".ffconcat", ".concat", ".pls", ".sdp", ".mpd", ".xspf", ".cue"}))
    c.fail(field, quoted + " is a playlist or list; only single media files are read");
  for (size_t i = file.find('%'); i != std::string::npos; i = file.find('%', i + 1)) {
    size_t j = i + 1;
    while (j < file.size() && std::isdigit(static_cast<unsigned char>(file[j]))) ++j;
    if (j < file.size() && file[j] == 'd') c.fail(field, quoted + " is an image-sequence pattern; not read");
  }
  if (file.find_first_of("*?") != std::string::npos) c.fail(field, quoted + " is a wildcard pattern; not read");

  const fs::path joined = base_dir / path;
  std::error_code ec;
  if (!fs::exists(joined, ec)) return joined;  // reported as missing when opened
  const fs::path base = fs::canonical(base_dir.empty() ? fs::path(".") : base_dir, ec);
  if (ec) return joined;
  const fs::path resolved = fs::canonical(joined, ec);
  if (ec) return joined;
  const fs::path rel = resolved.lexically_relative(base);
  if (rel.empty() || *rel.begin() == ".." || rel.is_absolute())
    c.fail(field, quoted + " resolves (through a symlink) to " + resolved.string() +
                      ", outside the manifest's folder; media must lie inside it");
  return resolved;
}

TimelineActionKind parse_action(const Checker& c, const std::string& action, const std::string& field) {
  if (action == "start") return TimelineActionKind::kStart;
  if (action == "pause") return TimelineActionKind::kPause;
  if (action == "resume") return TimelineActionKind::kResume;
  if (action == "stop") return TimelineActionKind::kStop;
  c.fail(field, "unknown action \"" + action + "\" (expected start, pause, resume or stop)");
}

// The timeline is a small state machine: start once, first; pause only while recording;
// resume only while paused; stop last; times never go backwards.
void validate_timeline(const Checker& c, const std::vector<TimelineAction>& actions) {
  enum class State { kNotStarted, kRecording, kPaused, kStopped } state = State::kNotStarted;
  int64_t last_ms = 0;
  for (size_t i = 0; i < actions.size(); ++i) {
    const std::string field = "timeline[" + std::to_string(i) + "]";
    const TimelineAction& a = actions[i];
    if (a.at_ms < 0) c.fail(field + ".atMs", "must not be negative");
    if (a.at_ms < last_ms) c.fail(field + ".atMs", "goes back in time (previous action at " + std::to_string(last_ms) + ")");
    last_ms = a.at_ms;
    switch (a.kind) {
      case TimelineActionKind::kStart:
        if (state != State::kNotStarted) c.fail(field + ".action", "start while already started");
        state = State::kRecording;
        break;
      case TimelineActionKind::kPause:
        if (state == State::kPaused) c.fail(field + ".action", "pause while paused");
        if (state != State::kRecording) c.fail(field + ".action", "pause while not recording");
        state = State::kPaused;
        break;
      case TimelineActionKind::kResume:
        if (state != State::kPaused) c.fail(field + ".action", "resume while not paused");
        state = State::kRecording;
        break;
      case TimelineActionKind::kStop:
        if (state == State::kNotStarted) c.fail(field + ".action", "stop before start");
        if (state == State::kStopped) c.fail(field + ".action", "stop after stop");
        state = State::kStopped;
        break;
    }
    if (state == State::kStopped && i + 1 < actions.size())
      c.fail("timeline[" + std::to_string(i + 1) + "]", "action after stop");
  }
  if (!actions.empty() && actions.front().kind != TimelineActionKind::kStart)
    c.fail("timeline[0].action", "the first action must be start");
}

}  // namespace

Manifest parse_manifest(std::string_view text, const std::string& name, const std::filesystem::path& base_dir) {
  const Checker c(name);
  json root;
  if (text.size() > ManifestLimits::kMaxManifestBytes)
    c.fail("", "is larger than the " + std::to_string(ManifestLimits::kMaxManifestBytes) + " byte limit");
  // Nesting is bounded before any value is built (a manifest is never deep).
  const json::parser_callback_t depth_limit = [&c](int depth, json::parse_event_t, json&) {
    if (depth > ManifestLimits::kMaxJsonDepth)
      c.fail("", "nested deeper than " + std::to_string(ManifestLimits::kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    root = json::parse(text, depth_limit);
  } catch (const json::parse_error& e) {
    // nlohmann's message names the byte; keep only the reason, on one line.
    std::string what = e.what();
    if (const auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
    c.fail("", "not valid JSON: " + what);
  } catch (const json::exception& e) {
    // Found by fuzzing: a number too large for a double ("1e999") is out_of_range.406,
    // not a parse_error; it must not escape as a foreign exception without the file name.
    std::string what = e.what();
    if (const auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    c.fail("", "not valid JSON: " + what);
  }
  if (!root.is_object()) c.fail("", "must be a JSON object");
  reject_unknown_keys(c, root, "", kRootKeys);

  Manifest m{.call_id = c.string_field(root, "callId", "", true, true),
             .resource_id = c.string_field(root, "resourceId", "", false, false),
             .recording_id = std::nullopt,
             .recording_start_time = WallClock{0},
             .max_chunk_bytes = std::nullopt,
             .participants = {},
             .timeline = {}};
  if (root.contains("recordingId") && !root["recordingId"].is_null())
    m.recording_id = c.string_field(root, "recordingId", "", false, true);

  const std::string start_text = c.string_field(root, "recordingStartTime", "", true, true);
  const auto start = parse_iso8601(start_text);
  if (!start) c.fail("recordingStartTime", "not an ISO 8601 UTC time: \"" + start_text + "\"");
  m.recording_start_time = *start;

  if (const auto bytes = c.integer_field(root, "maxChunkBytes", "")) {
    if (*bytes < 65536) c.fail("maxChunkBytes", "must be at least 65536, got " + std::to_string(*bytes));
    m.max_chunk_bytes = static_cast<uint64_t>(*bytes);
  }

  const json& participants = c.require(root, "participants", "");
  if (!participants.is_array()) c.fail("participants", "must be an array");
  if (participants.empty()) c.fail("participants", "must not be empty");
  if (participants.size() > ManifestLimits::kMaxParticipants)
    c.fail("participants", std::to_string(participants.size()) + " participants exceed the limit of " +
                               std::to_string(ManifestLimits::kMaxParticipants));
  size_t media_entries = 0;
  std::set<std::string> ids;
  for (size_t i = 0; i < participants.size(); ++i) {
    const std::string path = "participants[" + std::to_string(i) + "]";
    const json& p = participants[i];
    if (!p.is_object()) c.fail(path, "must be an object");
    reject_unknown_keys(c, p, path, kParticipantKeys);
    Participant out;
    out.participant_id = c.string_field(p, "participantId", path, true, true);
    if (!ids.insert(out.participant_id).second)
      c.fail(path + ".participantId", "duplicate \"" + out.participant_id + "\"");
    out.display_name = c.string_field(p, "displayName", path, false, false);
    if (const auto it = p.find("media"); it != p.end() && !it->is_null()) {
      if (!it->is_array()) c.fail(path + ".media", "must be an array");
      if (it->size() > ManifestLimits::kMaxMediaPerParticipant)
        c.fail(path + ".media", std::to_string(it->size()) + " files exceed the limit of " +
                                    std::to_string(ManifestLimits::kMaxMediaPerParticipant) + " per participant");
      media_entries += it->size();
      if (media_entries > ManifestLimits::kMaxMediaEntries)
        c.fail(path + ".media", "more than " + std::to_string(ManifestLimits::kMaxMediaEntries) +
                                    " media files in the call");
      for (size_t j = 0; j < it->size(); ++j) {
        const std::string mpath = path + ".media[" + std::to_string(j) + "]";
        const json& e = (*it)[j];
        if (!e.is_object()) c.fail(mpath, "must be an object");
        reject_unknown_keys(c, e, mpath, kMediaKeys);
        MediaEntry entry;
        entry.field = mpath;
        entry.file_as_written = c.string_field(e, "file", mpath, true, true);
        entry.file = checked_media_path(c, mpath + ".file", entry.file_as_written, base_dir);
        entry.offset_ms = call_ms_field(c, e, "offsetMs", mpath, 0);
        const std::string role = c.string_field(e, "role", mpath, false, false);
        if (!role.empty() && role != "screen" && role != "camera")
          c.fail(mpath + ".role", "unknown role \"" + role + "\" (expected screen or camera)");
        entry.screen_share = role == "screen";
        out.media.push_back(std::move(entry));
      }
    }
    m.participants.push_back(std::move(out));
  }

  if (const auto it = root.find("timeline"); it != root.end() && !it->is_null()) {
    if (!it->is_array()) c.fail("timeline", "must be an array");
    if (it->size() > ManifestLimits::kMaxTimelineActions)
      c.fail("timeline", std::to_string(it->size()) + " actions exceed the limit of " +
                             std::to_string(ManifestLimits::kMaxTimelineActions));
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string path = "timeline[" + std::to_string(i) + "]";
      const json& a = (*it)[i];
      if (!a.is_object()) c.fail(path, "must be an object");
      reject_unknown_keys(c, a, path, kTimelineKeys);
      if (!c.integer_field(a, "atMs", path)) c.fail(path + ".atMs", "required field is missing");
      const int64_t at = call_ms_field(c, a, "atMs", path, 0);
      const std::string action = c.string_field(a, "action", path, true, true);
      m.timeline.push_back({at, parse_action(c, action, path + ".action")});
    }
    validate_timeline(c, m.timeline);
  }
  return m;
}

Manifest load_manifest(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw Error(path.string() + ": cannot read the manifest: not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot read the manifest: " + std::strerror(errno));
  // Read at most one byte past the limit: a huge file is refused without reading it all.
  std::string text(ManifestLimits::kMaxManifestBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) throw Error(path.string() + ": cannot read the manifest: " + std::strerror(errno));
  return parse_manifest(text, path.string(), path.parent_path());
}

}  // namespace callrec::engine
