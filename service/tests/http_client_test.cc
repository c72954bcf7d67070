// http_post, the outgoing side of event delivery: a redirect is reported, not followed;
// a target that never answers costs the timeout and no more.
#include "callrec/service/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <thread>

#include "callrec/service/http_server.h"

namespace callrec::service {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

TEST(HttpPost, ReportsARedirectWithoutFollowingIt) {
  asio::io_context ioc;
  int requests = 0;
  std::string body;
  HttpServer server(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), nullptr, {},
                    [&](const HttpRequest& req) {
                      ++requests;
                      body = req.body();
                      HttpResponse r;
                      r.status = 302;
                      r.headers.emplace_back("Location", "http://127.0.0.1:1/elsewhere");
                      return r;
                    });
  server.start();
  std::thread t([&] { ioc.run(); });
  const auto url = parse_http_url("http://127.0.0.1:" + std::to_string(server.local_endpoint().port()) + "/hook");
  ASSERT_TRUE(url);
  const PostResult r = http_post(*url, R"({"a":1})", {{"aeg-event-type", "Notification"}}, 5s);
  ioc.stop();
  t.join();
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(requests, 1) << "the redirect was not followed";
  EXPECT_EQ(body, R"({"a":1})");
}

TEST(HttpPost, ATargetThatNeverAnswersCostsTheTimeout) {
  asio::io_context ioc;
  tcp::acceptor silent(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));  // accepts (backlog), never reads
  const auto url = parse_http_url("http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/");
  const auto start = std::chrono::steady_clock::now();
  const PostResult r = http_post(*url, "{}", {}, 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  EXPECT_LT(took, 3s);
  // Nobody listening: refused at once.
  silent.close();
  const PostResult refused = http_post(*url, "{}", {}, 2s);
  EXPECT_EQ(refused.status, 0);
  EXPECT_NE(refused.error.find("connecting"), std::string::npos) << refused.error;
}

}  // namespace
}  // namespace callrec::service
