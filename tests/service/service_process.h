// `callrec serve` run by a test: started with the given options on 127.0.0.1:0, its
// stderr collected (the port is read from its "listening on" line), stopped with a
// signal. The destructor SIGKILLs a process still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace callrec::testing {

class ServiceProcess {
 public:
  // Starts `binary serve --listen 127.0.0.1:0 <args>` and waits for it to listen.
  ServiceProcess(const std::string& binary, const std::vector<std::string>& args);
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for the exit; returns the exit status (-signal when killed).
  int stop(int signal, std::chrono::seconds timeout = std::chrono::seconds(120));
  // What it printed on stderr so far.
  const std::string& err();

 private:
  void read_available(std::chrono::milliseconds wait);
  pid_t pid_ = -1;
  int err_fd_ = -1;
  int port_ = 0;
  std::string err_;
  std::optional<int> status_;
};

// An SDP offer as `ffmpeg -sdp_file` writes it for a sender on loopback: an Opus stream
// (payload type 97) and/or a VP8 stream (96), each on a free port pair of 127.0.0.1
// (RTP, RTCP) picked here; `ports` gets them (audio first), when given.
std::string loopback_offer(bool audio, bool video, std::vector<uint16_t>* ports = nullptr);

// An ffmpeg RTP sender on loopback: sends `file`'s audio (copied: Opus) to audio_port
// and its video (copied: VP8) to video_port in real time (-re), as a participant's
// client would, until destroyed (SIGTERM, then waited for) or the file ends.
class RtpSenderProcess {
 public:
  RtpSenderProcess(const std::filesystem::path& file, uint16_t audio_port, uint16_t video_port);
  ~RtpSenderProcess();
  RtpSenderProcess(const RtpSenderProcess&) = delete;
  RtpSenderProcess& operator=(const RtpSenderProcess&) = delete;

 private:
  pid_t pid_ = -1;
};

// A random Base64 access key written to `file`; returns the Base64 text.
std::string write_access_key(const std::filesystem::path& file);

struct HttpResult {
  int status = 0;
  std::string body;
};

// One request to 127.0.0.1:port over plain HTTP, signed with the Base64 `key` as the
// official client signs.
HttpResult signed_request(int port, const std::string& key, const std::string& method, const std::string& target,
                          const std::string& body = "");

// An HTTP receiver of events on 127.0.0.1 (callbacks, webhooks): keeps every body it
// answered 200 to; answers `refuse_status` instead while refusing().
class EventReceiver {
 public:
  EventReceiver();
  ~EventReceiver();
  std::string url() const;
  void refuse(int status);  // 0: accept again
  std::vector<std::string> bodies();
  // Waits until `count` bodies arrived; false on timeout.
  bool wait_for(size_t count, std::chrono::seconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec::testing
