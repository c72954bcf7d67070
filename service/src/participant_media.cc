#include "callrec/service/participant_media.h"

#include "callrec/service/api_error.h"

namespace callrec::service {

namespace {

class EchoLink final : public MediaLink {
 public:
  explicit EchoLink(std::string sdp) : sdp_(std::move(sdp)) {}
  const std::string& answer_sdp() const override { return sdp_; }
  void attach(RecordingSession&) override {}
  void detach() override {}

 private:
  std::string sdp_;
};

[[noreturn]] void bad_offer(const std::string& why) { throw ApiError(400, "InvalidSdp", "the SDP offer " + why, "sdp"); }

}  // namespace

std::unique_ptr<MediaLink> SdpEchoMedia::accept(std::string_view, std::string_view, std::string_view offer) {
  // RFC 4566: "<type>=<value>" lines ending in CRLF (or LF), starting with "v=0"; each
  // media description "m=<media> <port> <proto> <fmt> ...".
  if (offer.size() > 64 * 1024) bad_offer("is larger than 64 KiB");
  int media = 0;
  bool first = true;
  size_t pos = 0;
  while (pos < offer.size()) {
    size_t end = offer.find('\n', pos);
    if (end == std::string_view::npos) end = offer.size();
    std::string_view line = offer.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    for (const char c : line)
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') bad_offer("contains control characters");
    if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z')
      bad_offer("has a line that is not <letter>=<value>");
    if (first && line != "v=0") bad_offer("does not start with v=0");
    first = false;
    if (line[0] != 'm') continue;
    // m=audio 5004 RTP/AVP 96
    const std::string_view m = line.substr(2);
    const size_t s1 = m.find(' ');
    const size_t s2 = s1 == std::string_view::npos ? s1 : m.find(' ', s1 + 1);
    const size_t s3 = s2 == std::string_view::npos ? s2 : m.find(' ', s2 + 1);
    if (s3 == std::string_view::npos) bad_offer("has an m= line without media, port, protocol and format");
    const std::string_view kind = m.substr(0, s1);
    const std::string_view port = m.substr(s1 + 1, s2 - s1 - 1);
    const std::string_view proto = m.substr(s2 + 1, s3 - s2 - 1);
    if (kind != "audio" && kind != "video") bad_offer("has a stream that is neither audio nor video");
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) > 65535)
      bad_offer("has an m= line with a bad port");
    if (proto.substr(0, 7) != "RTP/AVP") bad_offer("has a stream that is not RTP/AVP");
    ++media;
  }
  if (first) bad_offer("is empty");
  if (media == 0) bad_offer("describes no audio or video stream");
  return std::make_unique<EchoLink>(std::string(offer));
}

}  // namespace callrec::service
