// Captures what the process writes to file descriptor 2 (stderr) while it lives: what
// any code, C or C++, libav included, writes there, not only std::cerr.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

namespace callrec::testing {

class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    std::cerr.flush();
    char name[] = "/tmp/callrec-stderr-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) std::abort();
    path_ = name;
    saved_ = ::dup(2);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() {
    restore();
    ::unlink(path_.c_str());
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Stops capturing and returns what was written.
  std::string finish() {
    restore();
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    std::cerr.flush();
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }

  std::string path_;
  int saved_ = -1;
};

}  // namespace callrec::testing
