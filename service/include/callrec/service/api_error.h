// The error model of every route: status and
//   {"error": {"code": "RecordingNotFound", "message": "...", "target": "recordingId", "details": []}}
// (the reference service's CommunicationErrorResponse: the official clients read
// error.code and error.message from it).
#pragma once

#include <stdexcept>
#include <string>

namespace callrec::service {

class ApiError : public std::runtime_error {
 public:
  ApiError(int http_status, std::string code, const std::string& message, std::string target = {})
      : std::runtime_error(message), status_(http_status), code_(std::move(code)), target_(std::move(target)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const std::string& target() const { return target_; }

 private:
  int status_;
  std::string code_;
  std::string target_;
};

}  // namespace callrec::service
