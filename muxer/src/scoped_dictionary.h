// Owns an AVDictionary of options for the duration of an open call.
#pragma once

extern "C" {
#include <libavutil/dict.h>
}

#include <string>

#include "callrec/core/error.h"

namespace callrec::muxer {

// libav functions take AVDictionary** and may replace the dictionary (leaving the
// options they did not consume), so this exposes the address; it frees whatever is
// there at scope exit.
class ScopedDictionary {
 public:
  ScopedDictionary() = default;
  ~ScopedDictionary() { av_dict_free(&dict_); }
  ScopedDictionary(const ScopedDictionary&) = delete;
  ScopedDictionary& operator=(const ScopedDictionary&) = delete;

  void set(const char* key, const std::string& value) {
    check_av(av_dict_set(&dict_, key, value.c_str(), 0), std::string("setting option ") + key);
  }
  AVDictionary** address() { return &dict_; }
  // First option nobody consumed, or nullptr.
  const AVDictionaryEntry* first_unused() const {
    return av_dict_get(dict_, "", nullptr, AV_DICT_IGNORE_SUFFIX);
  }

 private:
  AVDictionary* dict_ = nullptr;
};

}  // namespace callrec::muxer
