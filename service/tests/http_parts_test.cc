// The small parsers of the service: byte ranges, outgoing URLs, conversationIds, call ids.
#include <gtest/gtest.h>

#include "callrec/conversation_id.h"
#include "callrec/service/api_error.h"
#include "callrec/service/byte_range.h"
#include "callrec/service/http_url.h"
#include "callrec/service/recording_service.h"

namespace callrec::service {
namespace {

TEST(ByteRange, ReadsTheRangesClientsSend) {
  struct Case {
    std::optional<std::string> header;
    RangeKind kind;
    uint64_t first, length;
  };
  const std::vector<Case> cases = {
      {std::nullopt, RangeKind::kWhole, 0, 0},
      {"bytes=undefined", RangeKind::kWhole, 0, 0},  // the 1.5.1 client, no offset
      {"bytes=100", RangeKind::kPartial, 100, 900},  // the 1.5.1 client, offset only
      {"bytes=100-1099", RangeKind::kPartial, 100, 900},
      {"bytes=100-199", RangeKind::kPartial, 100, 100},
      {"bytes=0-0", RangeKind::kPartial, 0, 1},
      {"bytes=990-", RangeKind::kPartial, 990, 10},
      {"bytes=-10", RangeKind::kPartial, 990, 10},
      {"bytes=-5000", RangeKind::kPartial, 0, 1000},
      {"bytes=500-5000", RangeKind::kPartial, 500, 500},
      {"BYTES=1-2", RangeKind::kPartial, 1, 2},
      {"bytes=1000-", RangeKind::kUnsatisfiable, 0, 0},
      {"bytes=-0", RangeKind::kUnsatisfiable, 0, 0},
      {"bytes=5-1", RangeKind::kWhole, 0, 0},
      {"bytes=1-2,4-5", RangeKind::kWhole, 0, 0},
      {"items=1-2", RangeKind::kWhole, 0, 0},
      {"bytes=99999999999999999999-", RangeKind::kWhole, 0, 0},
      {"bytes=-", RangeKind::kWhole, 0, 0},
  };
  for (const Case& c : cases) {
    const RangeRequest r = parse_byte_range(c.header, 1000);
    const std::string what = c.header.value_or("(none)");
    EXPECT_EQ(r.kind, c.kind) << what;
    if (c.kind == RangeKind::kPartial) {
      EXPECT_EQ(r.range.first, c.first) << what;
      EXPECT_EQ(r.range.length, c.length) << what;
    }
  }
}

TEST(HttpUrl, TakesHttpAndHttpsTargetsOnly) {
  auto u = parse_http_url("https://hooks.example:8443/a/b?x=1");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "hooks.example");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->target, "/a/b?x=1");
  EXPECT_EQ(u->host_header(), "hooks.example:8443");
  u = parse_http_url("http://[::1]:9000");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->host_header(), "[::1]:9000");
  u = parse_http_url("HTTP://127.0.0.1?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->target, "/?q");
  for (const char* bad : {"ftp://x/", "file:///etc/passwd", "gopher://x", "http://", "http://user:pw@x/",
                          "http://x:0/", "http://x:99999/", "http://x:8a/", "http://x/#frag", "http://x y/",
                          "javascript:alert(1)", "http://[::1/", "http://a\r\nb/", "http://x/\xc3\xa9"}) {
    std::string why;
    EXPECT_FALSE(parse_http_url(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(ConversationId, IsTheBase64UrlOfTheConversationUrl) {
  EXPECT_EQ(conversation_id_from_url("https://conv.example/conversations/42"),
            "aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg");
  EXPECT_EQ(conversation_url_from_id("aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg"),
            "https://conv.example/conversations/42");
  EXPECT_EQ(conversation_url_from_id("not base64!"), std::nullopt);
  EXPECT_EQ(conversation_url_from_id("AAEC"), std::nullopt) << "binary is not a URL";
}

TEST(CallId, PaddedAndUnpaddedConversationIdsNameOneCall) {
  EXPECT_EQ(canonical_call_id("aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg==", "callId"),
            "aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg");
  EXPECT_EQ(canonical_call_id("0c9a3c3e-1d52-4d4f-9d1b-2f0c1e6c8a11", "callId"), "0c9a3c3e-1d52-4d4f-9d1b-2f0c1e6c8a11");
  for (const char* bad : {"", "../etc", "a/b", "a b", "a%2Fb"}) EXPECT_THROW(canonical_call_id(bad, "callId"), ApiError) << bad;
  EXPECT_THROW(canonical_call_id(std::string(1025, 'a'), "callId"), ApiError);
}

}  // namespace
}  // namespace callrec::service
