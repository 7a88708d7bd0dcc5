// --allowed-origins: which origins get a CORS header, and which WebSocket
// upgrades pass the Origin check.
#include "server/origins.h"

#include <gtest/gtest.h>

namespace dsv3::server {
namespace {

TEST(AllowedOriginsTest, NoneListedSendsNoCorsHeader) {
  const AllowedOrigins none;
  EXPECT_EQ(none.cors("http://evil.example"), "");
  EXPECT_EQ(none.cors(""), "");
}

TEST(AllowedOriginsTest, ListedOriginsAreEchoed) {
  const AllowedOrigins o({"https://app.example", "http://localhost:3000/"});
  EXPECT_EQ(o.cors("https://app.example"), "https://app.example");
  EXPECT_EQ(o.cors("HTTPS://App.Example"), "HTTPS://App.Example");
  EXPECT_EQ(o.cors("http://localhost:3000"), "http://localhost:3000");
  EXPECT_EQ(o.cors("https://app.example.evil"), "");
  EXPECT_EQ(o.cors("http://localhost:30001"), "");
  EXPECT_EQ(AllowedOrigins({"*"}).cors("http://any"), "*");
}

TEST(AllowedOriginsTest, WebSocketOriginCheck) {
  const AllowedOrigins none;
  EXPECT_TRUE(none.websocket_allowed("", "127.0.0.1:8080"));  // not a browser
  EXPECT_TRUE(none.websocket_allowed("http://127.0.0.1:8080", "127.0.0.1:8080"));  // the server's own page
  EXPECT_TRUE(none.websocket_allowed("https://Host.Example", "host.example"));
  EXPECT_FALSE(none.websocket_allowed("http://127.0.0.1:9090", "127.0.0.1:8080"));
  EXPECT_FALSE(none.websocket_allowed("http://evil.example", "127.0.0.1:8080"));
  EXPECT_FALSE(none.websocket_allowed("null", "127.0.0.1:8080"));
  EXPECT_FALSE(none.websocket_allowed("http://evil.example", ""));
  const AllowedOrigins listed({"http://evil.example"});
  EXPECT_TRUE(listed.websocket_allowed("http://evil.example", "127.0.0.1:8080"));
}

}  // namespace
}  // namespace dsv3::server
