// HmacAuthenticator against signatures computed independently (node's crypto, the way
// the official client's policy computes them), and a table of what must be refused.
#include "callrec/service/hmac_auth.h"

#include <gtest/gtest.h>

#include <map>

#include "callrec/service/crypto.h"

namespace callrec::service {
namespace {

using namespace std::chrono_literals;
using Time = std::chrono::system_clock::time_point;

const Time kSigned = std::chrono::system_clock::from_time_t(1796289648);  // Thu, 03 Dec 2026 09:20:48 GMT
const char* kDate = "Thu, 03 Dec 2026 09:20:48 GMT";
const char* kEmptyHash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

HmacAuthenticator authenticator() {
  return HmacAuthenticator(*base64_decode("a2V5LWZvci10ZXN0cy0xMjM0NTY3ODkwYWJjZGVm"));
}

struct Req {
  std::string method = "GET";
  std::string target = "/calling/recordings/abc?api-version=2023-10-15";
  std::string body;
  std::map<std::string, std::string> headers = {
      {"x-ms-date", kDate},
      {"host", "localhost:8443"},
      {"x-ms-content-sha256", kEmptyHash},
      {"authorization", "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="
                        "VreG8CITtEBqWANeJ/xu0OS6d9/MpajxIRqkWbBgAuM="}};
  SignedRequestView view() const {
    return {method, target, body, [this](std::string_view name) -> std::optional<std::string_view> {
              std::string lower(name);
              for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
              const auto it = headers.find(lower);
              if (it == headers.end()) return std::nullopt;
              return it->second;
            }};
  }
};

TEST(HmacAuth, AcceptsTheClientsSignature) {
  const Req r;
  EXPECT_EQ(authenticator().verify(r.view(), kSigned), std::nullopt);
  EXPECT_EQ(authenticator().verify(r.view(), kSigned + 4min), std::nullopt) << "within the window";
}

TEST(HmacAuth, AcceptsASignedBodyAndTheHostOfXMsHost) {
  Req r;
  r.method = "POST";
  r.target = "/calling/recordings?api-version=2023-10-15";
  r.body = R"({"a":1})";
  // Sent to another host (a download location), signed for the endpoint's host.
  r.headers["host"] = "127.0.0.1:9999";
  r.headers["x-ms-host"] = "svc.example";
  r.headers["x-ms-content-sha256"] = "AVq9f1zFei3ZS3WQ8ErYCEJzkF7jPsXOvq5iJ2qX+GI=";
  r.headers["authorization"] =
      "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=M9/uqtD3DRI/sllJGDLOWZbDBnFwm6f/Ao0mLGOX1io=";
  EXPECT_EQ(authenticator().verify(r.view(), kSigned), std::nullopt);
}

TEST(HmacAuth, SignProducesWhatVerifyAccepts) {
  const HmacAuthenticator a = authenticator();
  Req r;
  const SignedHeaders h = a.sign("GET", r.target, "localhost:8443", "", kSigned);
  EXPECT_EQ(h.date, kDate);
  EXPECT_EQ(h.content_sha256, kEmptyHash);
  EXPECT_EQ(h.authorization, r.headers["authorization"]);
}

TEST(HmacAuth, RefusesWhatIsNotTheClientsSignature) {
  struct Case {
    const char* what;
    std::function<void(Req&)> change;
    std::chrono::seconds at = 0s;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"no Authorization", [](Req& r) { r.headers.erase("authorization"); }, 0s, "no Authorization"},
      {"another scheme", [](Req& r) { r.headers["authorization"] = "Bearer abc"; }, 0s, "scheme"},
      {"no signature", [](Req& r) { r.headers["authorization"] = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"; }, 0s, "lacks"},
      {"wrong signature", [](Req& r) { r.headers["authorization"].back() = 'A'; }, 0s, "does not match"},
      {"another method", [](Req& r) { r.method = "DELETE"; }, 0s, "signature does not match"},
      {"another path", [](Req& r) { r.target = "/calling/recordings/abd?api-version=2023-10-15"; }, 0s, "signature"},
      {"another query", [](Req& r) { r.target = "/calling/recordings/abc?api-version=2024-01-01"; }, 0s, "signature"},
      {"another host", [](Req& r) { r.headers["host"] = "evil:8443"; }, 0s, "signature"},
      {"x-ms-host differs", [](Req& r) { r.headers["x-ms-host"] = "evil"; }, 0s, "signature"},
      {"no host at all", [](Req& r) { r.headers.erase("host"); }, 0s, "missing"},
      {"body changed", [](Req& r) { r.body = "x"; }, 0s, "x-ms-content-sha256"},
      {"hash header changed", [](Req& r) { r.headers["x-ms-content-sha256"] = "AAAA"; }, 0s, "x-ms-content-sha256"},
      {"no date", [](Req& r) { r.headers.erase("x-ms-date"); }, 0s, "missing"},
      {"date not a date", [](Req& r) { r.headers["x-ms-date"] = "yesterday"; }, 0s, "not an HTTP date"},
      {"replayed 6 min later", [](Req&) {}, 360s, "time window"},
      {"from 6 min in the future", [](Req&) {}, -360s, "time window"},
      {"date left out of SignedHeaders",
       [](Req& r) { r.headers["authorization"] = "HMAC-SHA256 SignedHeaders=host;x-ms-content-sha256&Signature=x"; }, 0s,
       "must include"},
  };
  const HmacAuthenticator a = authenticator();
  for (const Case& c : cases) {
    Req r;
    c.change(r);
    const auto why = a.verify(r.view(), kSigned + c.at);
    ASSERT_TRUE(why.has_value()) << c.what << ": accepted";
    EXPECT_NE(why->find(c.reason), std::string::npos) << c.what << ": " << *why;
  }
}

TEST(HmacAuth, ParsesTheThreeHttpDateForms) {
  EXPECT_EQ(parse_http_date("Thu, 03 Dec 2026 09:20:48 GMT"), kSigned);
  EXPECT_EQ(parse_http_date("Thursday, 03-Dec-26 09:20:48 GMT"), kSigned);
  EXPECT_EQ(parse_http_date("Thu Dec  3 09:20:48 2026"), kSigned);
  EXPECT_EQ(format_http_date(kSigned), kDate);
  for (const char* bad : {"", "Thu, 03 Dec 2026 09:20:48", "Thu, 03 Dec 2026 25:20:48 GMT x", "2026-12-03T09:20:48Z"})
    EXPECT_EQ(parse_http_date(bad), std::nullopt) << bad;
}

TEST(Crypto, Base64AndBase64UrlRoundTripAndRefuseOtherAlphabets) {
  const std::string text = "https://conv.example/conversations/42";
  EXPECT_EQ(base64url_encode(as_bytes(text)), "aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg");
  const auto back = base64url_decode("aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg");
  ASSERT_TRUE(back);
  EXPECT_EQ(std::string(back->begin(), back->end()), text);
  EXPECT_TRUE(base64url_decode("aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg=="));
  EXPECT_FALSE(base64url_decode("ab+/"));
  EXPECT_FALSE(base64_decode("ab-_"));
  EXPECT_FALSE(base64_decode("a"));
  EXPECT_FALSE(base64_decode("ab=c"));
  EXPECT_FALSE(base64_decode("ab\ncd"));
  EXPECT_EQ(base64_encode(as_bytes("")), "");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

}  // namespace
}  // namespace callrec::service
