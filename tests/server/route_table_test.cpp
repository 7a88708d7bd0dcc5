// The route table's matching: exact paths, "{id}" paths, the methods a path
// takes (for 405's Allow), the metrics label of unknown paths, and the error
// shape of a path's routes.
#include "server/route_table.h"

#include <gtest/gtest.h>

namespace dsv3::server {
namespace {

class RouteTableTest : public ::testing::Test {
 protected:
  RouteTableTest() : limiter_(RateLimits{}), table_(metrics_, limiter_, keys_) {
    table_.add({.method = http::verb::get, .path = "/v1/models", .handler = [](Exchange&) {}});
    table_.add({.method = http::verb::get, .path = "/v1/models/{id}", .handler = [](Exchange&) {}});
    table_.add({.method = http::verb::post, .path = "/v1/chat/completions", .rate_limited = true, .handler = [](Exchange&) {}});
    table_.add({.method = http::verb::get, .path = "/both", .handler = [](Exchange&) {}});
    table_.add({.method = http::verb::post, .path = "/both", .handler = [](Exchange&) {}});
    table_.add({.method = http::verb::post, .path = "/v1/messages", .errors = ErrorShape::kAnthropic,
                .handler = [](Exchange&) {}});
  }
  Metrics metrics_;
  RateLimiter limiter_;
  ApiKeys keys_;
  RouteTable table_;
};

TEST_F(RouteTableTest, ExactPaths) {
  const auto m = table_.match(http::verb::post, "/v1/chat/completions");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->path, "/v1/chat/completions");
  EXPECT_TRUE(m.route->rate_limited);
  EXPECT_EQ(m.label, "/v1/chat/completions");
  EXPECT_EQ(m.param, "");
  EXPECT_EQ(table_.match(http::verb::get, "/v1/models").route->path, "/v1/models");
}

TEST_F(RouteTableTest, ParameterPathsTakeAnyRest) {
  auto m = table_.match(http::verb::get, "/v1/models/tiny");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.label, "/v1/models/{id}");
  EXPECT_EQ(m.param, "tiny");
  m = table_.match(http::verb::get, "/v1/models/");  // an empty id: the handler lists
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.param, "");
  EXPECT_EQ(table_.match(http::verb::get, "/v1/models/a/b").param, "a/b");
}

TEST_F(RouteTableTest, WrongMethodKeepsTheLabelAndSaysWhatIsAllowed) {
  auto m = table_.match(http::verb::get, "/v1/chat/completions");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.label, "/v1/chat/completions");
  EXPECT_EQ(m.allowed, "POST");
  m = table_.match(http::verb::delete_, "/both");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed, "GET, POST");
  m = table_.match(http::verb::post, "/both");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, http::verb::post);
}

TEST_F(RouteTableTest, UnknownPaths) {
  for (const char* path : {"/", "/v1", "/v1/chat/completions/", "/v1/modelsx"}) {
    const auto m = table_.match(http::verb::get, path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_EQ(m.allowed, "") << path;
    EXPECT_EQ(m.label, "other") << path;
  }
}

TEST_F(RouteTableTest, ErrorShapeIsThePathsRoutes) {
  // whatever the method (a 405 too) and the query, Anthropic's routes answer in its shape
  EXPECT_EQ(table_.match(http::verb::get, "/v1/messages").errors, ErrorShape::kAnthropic);
  EXPECT_EQ(table_.errors_for("/v1/messages?beta=true"), ErrorShape::kAnthropic);
  EXPECT_EQ(table_.errors_for("/v1/chat/completions"), ErrorShape::kOpenAI);
  EXPECT_EQ(table_.errors_for("/nowhere"), ErrorShape::kOpenAI);
  EXPECT_EQ(table_.errors_for(""), ErrorShape::kOpenAI);  // a header never read whole
}

}  // namespace
}  // namespace dsv3::server
