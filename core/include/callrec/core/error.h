// The one error type that crosses stage boundaries.
//
// Messages are complete one-line sentences naming what was being done and to what
// (a file, a field, a participant), e.g. "ada.webm: cannot open: No such file or directory".
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace callrec {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// FFmpeg's text for an AVERROR code.
std::string av_error_text(int averror);

// Throws Error("<what>: <FFmpeg's text>") when averror < 0; returns it otherwise.
int check_av(int averror, std::string_view what);

}  // namespace callrec
