// Server-sent events framing.
#include "server/sse.h"

#include <gtest/gtest.h>

namespace dsv3::server {
namespace {

TEST(Sse, OneDataLineAndABlankLine) {
  EXPECT_EQ(sse_data("{\"a\":1}"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

TEST(Sse, JsonWithNewlinesStaysOnOneLine) {
  const std::string e = sse_event(nlohmann::json{{"text", "a\nb\n\n"}});
  EXPECT_EQ(e, "data: {\"text\":\"a\\nb\\n\\n\"}\n\n");
}

TEST(Sse, RawNewlinesBecomeSeveralDataLines) {
  EXPECT_EQ(sse_data("x\ny"), "data: x\ndata: y\n\n");
}

TEST(Sse, NamedEventsStartWithAnEventLine) {
  EXPECT_EQ(sse_data("{}", "message_start"), "event: message_start\ndata: {}\n\n");
  EXPECT_EQ(sse_event(nlohmann::json{{"type", "ping"}}, "ping"), "event: ping\ndata: {\"type\":\"ping\"}\n\n");
  EXPECT_EQ(sse_data("x\ny", "delta"), "event: delta\ndata: x\ndata: y\n\n");
  EXPECT_EQ(sse_data("x", ""), "data: x\n\n");  // no name: no event line
}

TEST(Sse, AnEventNameCannotAddFields) {
  // a line break in the name would start a line the client reads as another field
  EXPECT_EQ(sse_data("x", "a\ndata: injected\r"), "event: adata: injected\ndata: x\n\n");
}

}  // namespace
}  // namespace dsv3::server
