#include "callrec/core/error.h"

extern "C" {
#include <libavutil/error.h>
}

namespace callrec {

std::string av_error_text(int averror) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(averror, buf, sizeof buf);
  return buf;
}

int check_av(int averror, std::string_view what) {
  if (averror < 0) throw Error(std::string(what) + ": " + av_error_text(averror));
  return averror;
}

}  // namespace callrec
