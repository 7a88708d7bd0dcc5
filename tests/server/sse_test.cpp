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

}  // namespace
}  // namespace dsv3::server
