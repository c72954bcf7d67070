#include "headless_chromium.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/core/random_id.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/base64.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace callrec::testing {
namespace {

using Clock = std::chrono::steady_clock;
// Starting a browser on a loaded two-core machine (sanitizer builds, parallel tests).
constexpr auto kStartTimeout = std::chrono::seconds(90);
constexpr auto kCallTimeout = std::chrono::seconds(60);

void write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(std::string("chromium: cannot write to its pipe: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

std::string base64_decode(const std::string& text) {
  std::string out(text.size() * 3 / 4 + 3, '\0');
  const int n = av_base64_decode(reinterpret_cast<uint8_t*>(out.data()), text.c_str(), static_cast<int>(out.size()));
  if (n < 0) throw Error("chromium: a screenshot that is not base64");
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

HeadlessChromium::HeadlessChromium(int width, int height) {
  if (::access(kBinary, X_OK) != 0)
    throw Error(std::string(kBinary) + " is missing: install Debian's chromium package (scripts/test does)");
  // A browser that died must fail the call, not end the test process.
  ::signal(SIGPIPE, SIG_IGN);
  profile_ = std::filesystem::temp_directory_path() / ("callrec-chromium-" + random_hex_128());
  std::filesystem::create_directories(profile_);
  int in_pipe[2], out_pipe[2];  // in: we write, the browser reads fd 3; out: it writes fd 4
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0)
    throw Error(std::string("chromium: cannot make pipes: ") + std::strerror(errno));
  const std::vector<std::string> argv = {kBinary,
                                         "--headless",
                                         "--no-sandbox",
                                         "--disable-gpu",
                                         "--disable-background-networking",
                                         "--disable-component-update",
                                         "--disable-sync",
                                         "--disable-extensions",
                                         "--disable-default-apps",
                                         "--no-first-run",
                                         "--no-default-browser-check",
                                         "--hide-scrollbars",
                                         "--remote-debugging-pipe",
                                         "--user-data-dir=" + profile_.string(),
                                         "--window-size=" + std::to_string(width) + "," + std::to_string(height),
                                         "about:blank"};
  pid_ = ::fork();
  if (pid_ < 0) throw Error(std::string("chromium: cannot fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    // The browser's own log goes nowhere: the page's messages come through the protocol.
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    // Moved out of the way first: a pipe end may already be fd 3 or 4, and dup2 onto
    // itself would keep its close-on-exec flag.
    const int reads = ::fcntl(in_pipe[0], F_DUPFD_CLOEXEC, 10);
    const int writes = ::fcntl(out_pipe[1], F_DUPFD_CLOEXEC, 10);
    ::dup2(reads, 3);
    ::dup2(writes, 4);
    ::setpgid(0, 0);  // its helper processes end with it
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  to_browser_ = in_pipe[1];
  from_browser_ = out_pipe[0];
  // The first answer says the browser is up.
  try {
    const auto deadline = Clock::now() + kStartTimeout;
    const int id = next_id_++;
    write_all(to_browser_, nlohmann::json{{"id", id}, {"method", "Browser.getVersion"}}.dump() + std::string(1, '\0'));
    for (;;) {
      const nlohmann::json m = read_message(deadline);
      if (m.value("id", 0) == id) break;
    }
  } catch (...) {
    end();
    throw;
  }
}

HeadlessChromium::~HeadlessChromium() { end(); }

void HeadlessChromium::end() {
  if (pid_ > 0) {
    try {
      write_all(to_browser_, nlohmann::json{{"id", next_id_++}, {"method", "Browser.close"}}.dump() + std::string(1, '\0'));
    } catch (const Error&) {
    }
    // A browser that does not close within 10 s is ended, with its helpers.
    int status = 0;
    bool ended = false;
    for (int i = 0; i < 100 && !ended; ++i) {
      ended = ::waitpid(pid_, &status, WNOHANG) == pid_;
      if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!ended) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    ::kill(-pid_, SIGKILL);  // helpers still in its process group
  }
  pid_ = -1;
  if (to_browser_ >= 0) ::close(to_browser_);
  if (from_browser_ >= 0) ::close(from_browser_);
  to_browser_ = from_browser_ = -1;
  std::error_code ignored;
  if (!profile_.empty()) std::filesystem::remove_all(profile_, ignored);
}

nlohmann::json HeadlessChromium::read_message(Clock::time_point deadline) {
  for (;;) {
    const size_t end = buffer_.find('\0');
    if (end != std::string::npos) {
      nlohmann::json m = nlohmann::json::parse(buffer_.substr(0, end), nullptr, false);
      buffer_.erase(0, end + 1);
      if (m.is_discarded()) throw Error("chromium: sent a message that is not JSON");
      if (m.contains("method")) events_.push_back(Event{m["method"], m.value("params", nlohmann::json::object())});
      return m;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw Error("chromium: no answer in time");
    pollfd p{from_browser_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::read(from_browser_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("chromium: the browser closed its pipe (did it crash?)");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

nlohmann::json HeadlessChromium::call(const std::string& method, const nlohmann::json& params, bool in_page) {
  const int id = next_id_++;
  nlohmann::json m = {{"id", id}, {"method", method}, {"params", params}};
  if (in_page) m["sessionId"] = session_;
  write_all(to_browser_, m.dump() + std::string(1, '\0'));
  const auto deadline = Clock::now() + kCallTimeout;
  for (;;) {
    nlohmann::json reply = read_message(deadline);
    if (reply.value("id", 0) != id) continue;
    if (reply.contains("error")) throw Error("chromium: " + method + " failed: " + reply["error"].dump());
    return reply.value("result", nlohmann::json::object());
  }
}

void HeadlessChromium::wait_for_event(const std::string& method, Clock::time_point deadline) {
  for (size_t i = 0; i < events_.size(); ++i)
    if (events_[i].method == method) return;
  for (;;) {
    const nlohmann::json m = read_message(deadline);
    if (m.value("method", "") == method) return;
  }
}

void HeadlessChromium::open(const std::string& url) {
  const nlohmann::json target = call("Target.createTarget", {{"url", "about:blank"}}, false);
  const nlohmann::json attached =
      call("Target.attachToTarget", {{"targetId", target["targetId"]}, {"flatten", true}}, false);
  session_ = attached["sessionId"];
  for (const char* domain : {"Runtime.enable", "Log.enable", "Network.enable", "Page.enable"}) call(domain);
  events_.clear();  // about:blank's own events are not the page's
  call("Page.navigate", {{"url", url}});
  wait_for_event("Page.loadEventFired", Clock::now() + kCallTimeout);
  // Anything the page still does after its load event (it should do nothing) is
  // flushed by a round trip through the page.
  evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 200)))");
}

nlohmann::json HeadlessChromium::evaluate(const std::string& expression) {
  const nlohmann::json r =
      call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}});
  if (r.contains("exceptionDetails")) throw Error("chromium: evaluating failed: " + r["exceptionDetails"].dump());
  return r.contains("result") ? r["result"].value("value", nlohmann::json()) : nlohmann::json();
}

std::string HeadlessChromium::screenshot_png() {
  const nlohmann::json size = evaluate(
      "({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})");
  const int width = size.value("w", 1280);
  const int height = std::min(size.value("h", 1000), 16000);
  call("Emulation.setDeviceMetricsOverride",
       {{"width", width}, {"height", height}, {"deviceScaleFactor", 1}, {"mobile", false}});
  const nlohmann::json shot = call("Page.captureScreenshot", {{"format", "png"}});
  return base64_decode(shot.value("data", ""));
}

std::vector<std::string> HeadlessChromium::errors() const {
  std::vector<std::string> out;
  for (const Event& e : events_) {
    if (e.method == "Runtime.consoleAPICalled" && (e.params.value("type", "") == "error" ||
                                                   e.params.value("type", "") == "assert"))
      out.push_back("console." + e.params.value("type", "") + ": " + e.params["args"].dump());
    if (e.method == "Runtime.exceptionThrown") out.push_back("exception: " + e.params["exceptionDetails"].dump());
    if (e.method == "Log.entryAdded" && e.params["entry"].value("level", "") == "error")
      out.push_back("log: " + e.params["entry"].value("text", "") + " " + e.params["entry"].value("url", ""));
  }
  return out;
}

std::vector<std::string> HeadlessChromium::requests() const {
  std::vector<std::string> out;
  for (const Event& e : events_)
    if (e.method == "Network.requestWillBeSent") out.push_back(e.params["request"].value("url", ""));
  return out;
}

RgbImage decode_png(const std::string& png) {
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_PNG);
  if (!codec) throw Error("FFmpeg has no PNG decoder");
  av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  check_av(avcodec_open2(ctx.get(), codec, nullptr), "opening the PNG decoder");
  av::PacketPtr packet = av::make_packet();
  check_av(av_new_packet(packet.get(), static_cast<int>(png.size())), "allocating a PNG packet");
  std::memcpy(packet->data, png.data(), png.size());
  check_av(avcodec_send_packet(ctx.get(), packet.get()), "decoding the screenshot");
  av::FramePtr frame = av::make_frame();
  check_av(avcodec_receive_frame(ctx.get(), frame.get()), "decoding the screenshot");
  RgbImage out;
  out.width = frame->width;
  out.height = frame->height;
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
  av::SwsPtr sws(sws_getContext(frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), frame->width,
                                frame->height, AV_PIX_FMT_RGB24, SWS_POINT, nullptr, nullptr, nullptr));
  if (!sws) throw Error("cannot convert the screenshot to RGB");
  uint8_t* dst[4] = {out.rgb.data(), nullptr, nullptr, nullptr};
  int dst_linesize[4] = {out.width * 3, 0, 0, 0};
  sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, dst, dst_linesize);
  return out;
}

}  // namespace callrec::testing
