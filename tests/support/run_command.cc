#include "run_command.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace callrec::testing {
namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

CommandResult run_command(const std::vector<std::string>& argv) {
  char out_tmpl[] = "/tmp/callrec-cmd-out-XXXXXX";
  char err_tmpl[] = "/tmp/callrec-cmd-err-XXXXXX";
  const int out_fd = mkstemp(out_tmpl);
  const int err_fd = mkstemp(err_tmpl);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  close(out_fd);
  close(err_fd);
  CommandResult r{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out_tmpl), slurp(err_tmpl),
                  usage.ru_maxrss};
  std::filesystem::remove(out_tmpl);
  std::filesystem::remove(err_tmpl);
  return r;
}

bool is_hidden(const std::filesystem::path& p) { return p.filename().string().front() == '.'; }

std::vector<std::filesystem::path> published_files(const std::filesystem::path& dir, const std::string& ext) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ext && !is_hidden(e.path()) && e.path().filename() != "recording.json")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void expect_plays_completely(const std::filesystem::path& mp4) {
  const CommandResult r = run_command({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", mp4.string(),
                                       "-f", "null", "-"});
  EXPECT_EQ(r.exit_code, 0) << mp4 << ": " << r.err;
  EXPECT_EQ(r.err, "") << mp4;
}

}  // namespace callrec::testing
