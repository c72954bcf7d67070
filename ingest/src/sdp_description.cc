#include "callrec/ingest/sdp_description.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <set>

#include "callrec/core/error.h"

extern "C" {
#include <libavutil/base64.h>
}

namespace callrec::ingest {
namespace {

constexpr std::string_view kAudioLevelUri = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return parts;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  for (auto w : split(s, ' '))
    if (!trim(w).empty()) out.push_back(trim(w));
  return out;
}

template <typename T>
std::optional<T> number(std::string_view s) {
  T value{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

// Printable text of an input line for messages: bounded, control characters replaced.
std::string quote(std::string_view line) {
  std::string out;
  for (const char c : line.substr(0, 80)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (line.size() > 80) out += "...";
  return out;
}

struct Connection {
  std::string address;
};

// "IN IP4 127.0.0.1[/ttl]" -> address; empty message when fine.
std::string parse_connection(std::string_view value, Connection& out) {
  const auto w = words(value);
  if (w.size() != 3 || w[0] != "IN" || (w[1] != "IP4" && w[1] != "IP6"))
    return "expected \"IN IP4 <address>\" or \"IN IP6 <address>\"";
  const std::string address(split(w[2], '/')[0]);
  unsigned char buf[16];
  if (w[1] == "IP4") {
    if (inet_pton(AF_INET, address.c_str(), buf) != 1) return "\"" + quote(address) + "\" is not an IPv4 address";
    if (buf[0] >= 224 && buf[0] <= 239) return "multicast address " + address + " is not supported";
  } else {
    if (inet_pton(AF_INET6, address.c_str(), buf) != 1) return "\"" + quote(address) + "\" is not an IPv6 address";
    if (buf[0] == 0xff) return "multicast address " + address + " is not supported";
  }
  out.address = address;
  return {};
}

struct PendingStream {
  size_t line = 0;
  std::string m_line;
  StreamDescription stream;
  std::vector<int> payload_types;  // in m= order
  std::map<int, std::pair<std::string, std::string>> rtpmap;  // pt -> (line, value)
  std::map<int, std::string> fmtp;
  std::map<int, size_t> rtpmap_line, fmtp_line;
  std::optional<Connection> connection;
  bool ignored = false;  // not audio/video, or port 0
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  ParticipantMedia run() {
    if (text_.size() > SdpDescription::kMaxBytes)
      throw Error("the SDP is " + std::to_string(text_.size()) + " bytes; at most " +
                  std::to_string(SdpDescription::kMaxBytes) + " are read");
    size_t number_of_line = 0;
    bool saw_version = false;
    for (std::string_view rest = text_; !rest.empty();) {
      const size_t nl = rest.find('\n');
      std::string_view raw = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      ++number_of_line;
      line_no_ = number_of_line;
      if (raw.size() > SdpDescription::kMaxLineBytes) fail(raw.substr(0, 20), "line longer than 4096 bytes");
      const std::string_view line = trim(raw);
      if (line.empty()) continue;
      if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z')
        fail(line, "not an SDP line (\"<letter>=<value>\")");
      if (!saw_version) {
        if (line != "v=0") fail(line, "an SDP starts with \"v=0\"");
        saw_version = true;
        continue;
      }
      handle(line);
    }
    if (!saw_version) throw Error("empty SDP (no \"v=0\" line)");
    return finish();
  }

 private:
  [[noreturn]] void fail(std::string_view line, const std::string& what) const {
    throw Error("line " + std::to_string(line_no_) + " (" + quote(line) + "): " + what);
  }

  void handle(std::string_view line) {
    const char type = line[0];
    const std::string_view value = line.substr(2);
    if (type == 'c') {
      Connection c;
      if (const std::string why = parse_connection(value, c); !why.empty()) fail(line, why);
      if (streams_.empty()) session_connection_ = c;
      else streams_.back().connection = c;
    } else if (type == 'm') {
      media(line, value);
    } else if (type == 'a' && !streams_.empty()) {
      attribute(line, value);
    }
  }

  void media(std::string_view line, std::string_view value) {
    if (streams_.size() >= SdpDescription::kMaxStreams)
      fail(line, "more than " + std::to_string(SdpDescription::kMaxStreams) + " m= lines");
    const auto w = words(value);
    if (w.size() < 4) fail(line, "expected \"m=<media> <port> <proto> <payload types>\"");
    PendingStream s;
    s.line = line_no_;
    s.m_line = std::string(line);
    if (w[0] == "audio") s.stream.kind = MediaKind::kAudio;
    else if (w[0] == "video") s.stream.kind = MediaKind::kVideo;
    else s.ignored = true;
    const auto port_parts = split(w[1], '/');
    const auto port = number<int>(port_parts[0]);
    if (!port || *port < 0 || *port > 65535) fail(line, "port \"" + quote(w[1]) + "\" is not a number 0-65535");
    if (port_parts.size() > 1 && port_parts[1] != "1") fail(line, "port ranges (\"/<count>\") are not supported");
    if (*port == 0) s.ignored = true;
    s.stream.rtp_port = static_cast<uint16_t>(*port);
    if (!s.ignored) {
      if (w[2].find("SAVP") != std::string_view::npos || w[2].find("TLS") != std::string_view::npos)
        fail(line, "encrypted media (" + quote(w[2]) + ") is not supported; use RTP/AVP");
      if (w[2] != "RTP/AVP" && w[2] != "RTP/AVPF") fail(line, "transport " + quote(w[2]) + " is not RTP/AVP");
      if (w.size() - 3 > SdpDescription::kMaxFormatsPerStream)
        fail(line, "more than " + std::to_string(SdpDescription::kMaxFormatsPerStream) + " payload types");
      for (size_t i = 3; i < w.size(); ++i) {
        const auto pt = number<int>(w[i]);
        if (!pt || *pt < 0 || *pt > 127) fail(line, "payload type \"" + quote(w[i]) + "\" is not a number 0-127");
        s.payload_types.push_back(*pt);
      }
    }
    streams_.push_back(std::move(s));
  }

  void attribute(std::string_view line, std::string_view value) {
    PendingStream& s = streams_.back();
    if (s.ignored) return;
    const size_t colon = value.find(':');
    const std::string_view name = value.substr(0, colon);
    const std::string_view arg = colon == std::string_view::npos ? std::string_view{} : trim(value.substr(colon + 1));
    if (name == "rtpmap" || name == "fmtp") {
      const size_t space = arg.find(' ');
      const auto pt = number<int>(arg.substr(0, space));
      if (!pt || *pt < 0 || *pt > 127 || space == std::string_view::npos)
        fail(line, "expected \"a=" + std::string(name) + ":<payload type> <value>\"");
      if (std::find(s.payload_types.begin(), s.payload_types.end(), *pt) == s.payload_types.end()) return;
      const std::string_view rest = trim(arg.substr(space + 1));
      if (name == "rtpmap") {
        s.rtpmap[*pt] = {std::string(line), std::string(rest)};
        s.rtpmap_line[*pt] = line_no_;
      } else {
        s.fmtp[*pt] = std::string(rest);
        s.fmtp_line[*pt] = line_no_;
      }
    } else if (name == "rtcp") {
      const auto w = words(arg);
      const auto port = w.empty() ? std::nullopt : number<int>(w[0]);
      if (!port || *port < 1 || *port > 65535) fail(line, "expected \"a=rtcp:<port 1-65535>\"");
      s.stream.rtcp_port = static_cast<uint16_t>(*port);
    } else if (name == "rtcp-mux") {
      s.stream.rtcp_mux = true;
    } else if (name == "extmap") {
      const auto w = words(arg);
      const auto id = w.empty() ? std::nullopt : number<int>(split(w[0], '/')[0]);
      if (w.size() < 2 || !id || *id < 1 || *id > 255 || *id == 15)
        fail(line, "expected \"a=extmap:<id 1-14 or 16-255> <uri>\"");
      if (w[1] == kAudioLevelUri) s.stream.audio_level_extension_id = *id;
    } else if (name == "content") {
      s.stream.screen_share = arg == "slides";
    }
  }

  PayloadFormat format(const PendingStream& s, int pt) {
    const auto map = s.rtpmap.find(pt);
    if (map == s.rtpmap.end()) {
      line_no_ = s.line;
      fail(s.m_line, "payload type " + std::to_string(pt) + " has no a=rtpmap (static payload types are not supported)");
    }
    line_no_ = s.rtpmap_line.at(pt);
    const std::string& line = map->second.first;
    const auto parts = split(map->second.second, '/');
    PayloadFormat f;
    f.payload_type = static_cast<uint8_t>(pt);
    const std::string_view name = parts[0];
    const auto rate = parts.size() > 1 ? number<int>(parts[1]) : std::nullopt;
    if (!rate) fail(line, "expected \"a=rtpmap:<pt> <codec>/<clock rate>\"");
    f.clock_rate_hz = *rate;
    if (iequals(name, "opus")) {
      f.codec = Codec::kOpus;
      if (*rate != 48000) fail(line, "Opus has a 48000 Hz RTP clock (RFC 7587), not " + std::to_string(*rate));
      const auto channels = parts.size() > 2 ? number<int>(parts[2]) : std::optional<int>(1);
      if (!channels || (*channels != 1 && *channels != 2)) fail(line, "Opus channels must be 1 or 2");
      f.channels = *channels;
    } else if (iequals(name, "VP8") || iequals(name, "H264")) {
      f.codec = iequals(name, "VP8") ? Codec::kVp8 : Codec::kH264;
      if (*rate != 90000) fail(line, std::string(name) + " has a 90000 Hz RTP clock, not " + std::to_string(*rate));
    } else {
      fail(line, "codec " + quote(name) + " is not supported (Opus, VP8, H264)");
    }
    if ((f.codec == Codec::kOpus) != (s.stream.kind == MediaKind::kAudio))
      fail(line, std::string(to_string(f.codec)) + " in an m=" +
                     (s.stream.kind == MediaKind::kAudio ? "audio" : "video") + " line");
    if (const auto fmtp = s.fmtp.find(pt); fmtp != s.fmtp.end() && f.codec == Codec::kH264) {
      line_no_ = s.fmtp_line.at(pt);
      h264_parameters(fmtp->second, f);
    }
    return f;
  }

  void h264_parameters(const std::string& text, PayloadFormat& f) {
    const std::string line = "a=fmtp:" + std::to_string(f.payload_type) + " " + text;
    for (const auto param : split(text, ';')) {
      const std::string_view p = trim(param);
      const size_t eq = p.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view key = trim(p.substr(0, eq)), value = trim(p.substr(eq + 1));
      if (key == "packetization-mode") {
        const auto mode = number<int>(value);
        if (!mode || *mode < 0 || *mode > 2) fail(line, "packetization-mode must be 0, 1 or 2");
        if (*mode == 2) fail(line, "packetization-mode=2 (interleaved) is not supported");
        f.packetization_mode = *mode;
      } else if (key == "sprop-parameter-sets") {
        for (const auto set : split(value, ',')) {
          if (set.empty()) continue;
          std::vector<uint8_t> nal(set.size());
          const std::string encoded(set);
          const int n = av_base64_decode(nal.data(), encoded.c_str(), static_cast<int>(nal.size()));
          if (n <= 0) fail(line, "sprop-parameter-sets: \"" + quote(set) + "\" is not base64");
          nal.resize(static_cast<size_t>(n));
          const int type = nal[0] & 0x1f;
          if ((nal[0] & 0x80) || (type != 7 && type != 8))
            fail(line, "sprop-parameter-sets: \"" + quote(set) + "\" is not an SPS or PPS");
          f.parameter_sets.push_back(std::move(nal));
        }
      }
    }
  }

  ParticipantMedia finish() {
    ParticipantMedia media;
    for (PendingStream& s : streams_) {
      if (s.ignored) continue;
      line_no_ = s.line;
      const auto& c = s.connection ? s.connection : session_connection_;
      if (!c) fail(s.m_line, "no c= line gives the address to listen on");
      s.stream.address = c->address;
      if (s.stream.rtcp_mux) s.stream.rtcp_port.reset();
      for (const int pt : s.payload_types) s.stream.formats.push_back(format(s, pt));
      line_no_ = s.line;
      media.streams.push_back(std::move(s.stream));
    }
    if (media.streams.empty()) throw Error("no m=audio or m=video line with a port to listen on");
    validate(media);
    return media;
  }

  std::string_view text_;
  size_t line_no_ = 0;
  std::optional<Connection> session_connection_;
  std::vector<PendingStream> streams_;
};

}  // namespace

const char* to_string(Codec codec) {
  switch (codec) {
    case Codec::kOpus: return "Opus";
    case Codec::kVp8: return "VP8";
    case Codec::kH264: return "H264";
  }
  return "?";
}

const PayloadFormat* StreamDescription::format(uint8_t payload_type) const {
  for (const auto& f : formats)
    if (f.payload_type == payload_type) return &f;
  return nullptr;
}

void validate(const ParticipantMedia& media, bool allow_any_port) {
  if (media.streams.empty()) throw Error("no audio or video stream");
  std::set<std::pair<std::string, int>> ports;
  for (size_t i = 0; i < media.streams.size(); ++i) {
    const StreamDescription& s = media.streams[i];
    const std::string name = std::string("stream ") + std::to_string(i) + " (" +
                             (s.kind == MediaKind::kAudio ? "audio" : "video") + " on port " +
                             std::to_string(s.rtp_port) + ")";
    if (s.rtp_port == 0 && !allow_any_port) throw Error(name + ": no port");
    if (!s.rtcp_mux && !s.rtcp_port && s.rtp_port == 65535)
      throw Error(name + ": RTCP would be on port 65536; give a=rtcp or a=rtcp-mux");
    if (s.formats.empty()) throw Error(name + ": no payload format");
    std::set<int> pts;
    for (const auto& f : s.formats) {
      if (!pts.insert(f.payload_type).second) throw Error(name + ": payload type " + std::to_string(f.payload_type) + " twice");
      if ((f.codec == Codec::kOpus) != (s.kind == MediaKind::kAudio))
        throw Error(name + ": codec " + to_string(f.codec) + " does not fit the stream's kind");
      if (f.payload_type >= 64 && f.payload_type <= 95)
        throw Error(name + ": payload type " + std::to_string(f.payload_type) +
                    " collides with RTCP packet types (RFC 5761: use 96-127 or 0-63)");
    }
    std::vector<int> listen = {s.rtp_port};
    if (!s.rtcp_mux) listen.push_back(s.rtcp_listen_port());
    for (const int port : listen)
      if (port != 0 && !ports.insert({s.address, port}).second)
        throw Error(name + ": port " + std::to_string(port) + " is used twice (bundled streams are not supported)");
  }
}

ParticipantMedia SdpDescription::parse(std::string_view text) { return Parser(text).run(); }

}  // namespace callrec::ingest
