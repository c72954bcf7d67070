// `callrec serve` run by a test: started with the given options on 127.0.0.1:0, its
// stderr collected (the port is read from its "listening on" line), stopped with a
// signal. The destructor SIGKILLs a process still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
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

// A random Base64 access key written to `file`; returns the Base64 text.
std::string write_access_key(const std::filesystem::path& file);

}  // namespace callrec::testing
