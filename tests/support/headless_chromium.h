// HeadlessChromium: opens a page in Debian's headless Chromium and watches it through
// the DevTools protocol, for tests of what callrec shows a person (the report page).
//
// The protocol runs over a pipe (--remote-debugging-pipe: JSON messages separated by
// NUL bytes on file descriptors 3 and 4), so no port is opened. Each browser gets a new
// profile folder and is started without background networking, so the only requests
// it makes are the page's own. Everything the page does is recorded: console messages,
// uncaught exceptions, log entries (CSP violations land there) and network requests.
//
// Threading: used by one thread. Every wait is bounded; a browser that does not answer
// fails the call with callrec::Error, and the destructor ends the browser it started.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace callrec::testing {

class HeadlessChromium {
 public:
  // The Debian package's binary.
  static constexpr const char* kBinary = "/usr/bin/chromium";

  // Starts the browser with a window of `width` x `height` CSS pixels. Throws
  // callrec::Error when it cannot start.
  HeadlessChromium(int width, int height);
  ~HeadlessChromium();
  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;

  // Opens `url` in a new tab with every domain watched from before the first request,
  // and returns once the load event fired.
  void open(const std::string& url);
  // Runs `expression` in the page and returns its value (JSON-serialisable).
  nlohmann::json evaluate(const std::string& expression);
  // A PNG of the whole page at its full height (the viewport is resized to fit).
  std::string screenshot_png();

  struct Event {
    std::string method;
    nlohmann::json params;
  };
  // Every event received so far, in order.
  const std::vector<Event>& events() const { return events_; }
  // Console errors, uncaught exceptions and error log entries, one line each.
  std::vector<std::string> errors() const;
  // URLs of every request the page made.
  std::vector<std::string> requests() const;

 private:
  nlohmann::json call(const std::string& method, const nlohmann::json& params = nlohmann::json::object(),
                      bool in_page = true);
  nlohmann::json read_message(std::chrono::steady_clock::time_point deadline);
  void end();
  void wait_for_event(const std::string& method, std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int to_browser_ = -1;
  int from_browser_ = -1;
  std::filesystem::path profile_;
  std::string buffer_;
  int next_id_ = 1;
  std::string session_;
  std::vector<Event> events_;
};

// Decodes a PNG to packed RGB (width * height * 3 bytes). Throws callrec::Error.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
  const uint8_t* at(int x, int y) const { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
};
RgbImage decode_png(const std::string& png);

}  // namespace callrec::testing
