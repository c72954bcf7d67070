#include "service_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <regex>
#include <stdexcept>
#include <thread>

#include "callrec/service/crypto.h"

namespace callrec::testing {

using Clock = std::chrono::steady_clock;

ServiceProcess::ServiceProcess(const std::string& binary, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv{binary, "serve", "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 2);
    const int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    execv(c[0], c.data());
    _exit(127);
  }
  close(fds[1]);
  err_fd_ = fds[0];
  const std::regex listening(R"(listening on https?://127\.0\.0\.1:(\d+))");
  const auto until = Clock::now() + std::chrono::seconds(30);
  std::smatch m;
  while (!std::regex_search(err_, m, listening)) {
    if (Clock::now() > until) throw std::runtime_error("callrec serve did not start: " + err_);
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      read_available(std::chrono::milliseconds(0));
      throw std::runtime_error("callrec serve exited at start: " + err_);
    }
    read_available(std::chrono::milliseconds(50));
  }
  port_ = std::stoi(m[1]);
}

ServiceProcess::~ServiceProcess() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (err_fd_ >= 0) close(err_fd_);
}

void ServiceProcess::read_available(std::chrono::milliseconds wait) {
  pollfd p{err_fd_, POLLIN, 0};
  while (poll(&p, 1, static_cast<int>(wait.count())) > 0) {
    char buffer[4096];
    const ssize_t n = read(err_fd_, buffer, sizeof buffer);
    if (n <= 0) return;
    err_.append(buffer, static_cast<size_t>(n));
    wait = std::chrono::milliseconds(0);
  }
}

const std::string& ServiceProcess::err() {
  read_available(std::chrono::milliseconds(0));
  return err_;
}

int ServiceProcess::stop(int signal, std::chrono::seconds timeout) {
  if (status_) return *status_;
  ::kill(pid_, signal);
  const auto until = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      break;
    }
    if (Clock::now() > until) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      status_ = -SIGKILL;
      break;
    }
    read_available(std::chrono::milliseconds(50));
  }
  read_available(std::chrono::milliseconds(0));
  return *status_;
}

std::string write_access_key(const std::filesystem::path& file) {
  std::random_device rd;
  std::vector<uint8_t> key(32);
  for (auto& b : key) b = static_cast<uint8_t>(rd());
  const std::string text = service::base64_encode(key);
  std::ofstream(file) << text << "\n";
  return text;
}

}  // namespace callrec::testing
