// The nesting-depth check that runs before any JSON is parsed (issue 13: a
// 100,000-deep array crashed the server; a deep prompt took seconds).
#include "server/json_depth.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "server/openai_api.h"

namespace dsv3::server {
namespace {

std::string nested(int n, const std::string& inner) { return std::string(n, '[') + inner + std::string(n, ']'); }

TEST(JsonDepth, CountsArraysAndObjectsNotStrings) {
  EXPECT_TRUE(json_depth_within("", 1));
  EXPECT_TRUE(json_depth_within("1", 0));
  EXPECT_TRUE(json_depth_within("[]", 1));
  EXPECT_FALSE(json_depth_within("[[]]", 1));
  EXPECT_TRUE(json_depth_within(R"({"a":[1],"b":{"c":2}})", 2));
  EXPECT_FALSE(json_depth_within(R"({"a":[1],"b":{"c":[2]}})", 2));
  EXPECT_TRUE(json_depth_within(R"(["[[[[{{{{", "\"[[[["])", 1)) << "brackets inside strings, escaped quotes";
  EXPECT_TRUE(json_depth_within("[][][][][]", 1)) << "siblings do not add up";
  EXPECT_FALSE(json_depth_within(nested(100000, "1"), 64));
  EXPECT_TRUE(json_depth_within(nested(64, "1"), 64));
}

TEST(JsonDepth, TooDeepNamesTheLimit) {
  EXPECT_FALSE(json_too_deep("[[1]]", 2));
  const auto e = json_too_deep("[[[1]]]", 2);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->code, "json_too_deep");
  EXPECT_NE(e->message.find("limit of 2 levels"), std::string::npos) << e->message;
}

ModelInfo plain_model() {
  ModelInfo m;
  m.id = "tiny";
  m.vocab_size = 300;
  m.context = 64;
  m.encode = [](std::string_view) { return std::vector<int32_t>{}; };
  m.render_chat = [](const nlohmann::ordered_json&, const nlohmann::ordered_json&, const nlohmann::ordered_json&)
      -> Result<std::string> { return std::string("x"); };
  return m;
}

TEST(JsonDepth, RequestsPastTheLimitAreRefusedBeforeParsing) {
  const ModelInfo m = plain_model();
  const std::string deep_tool_calls =
      R"({"model":"tiny","messages":[{"role":"assistant","content":"x","tool_calls":)" + nested(100000, "1") + "}]}";
  ParseResult r = parse_request(Endpoint::kChat, deep_tool_calls, m);
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  EXPECT_EQ(std::get<ApiError>(r).code, "json_too_deep");
  r = parse_request(Endpoint::kCompletion, R"({"model":"tiny","prompt":[[1]]})", m, 2);
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  EXPECT_EQ(std::get<ApiError>(r).code, "json_too_deep");
}

TEST(JsonDepth, NestedPromptUnwrapsInLinearTime) {
  const ModelInfo m = plain_model();
  // under a raised limit a deep batch of one still unwraps, a level per turn (it was a copy per level)
  const auto t0 = std::chrono::steady_clock::now();
  ParseResult r = parse_request(Endpoint::kCompletion, R"({"model":"tiny","prompt":)" + nested(5000, "1,2") + "}", m, 6000);
  ASSERT_TRUE(std::holds_alternative<ParsedRequest>(r));
  EXPECT_EQ(std::get<ParsedRequest>(r).job.prompt, (std::vector<int32_t>{1, 2}));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  r = parse_request(Endpoint::kCompletion, R"({"model":"tiny","prompt":[[[]]]})", m);
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  EXPECT_EQ(std::get<ApiError>(r).param, "prompt");
}

}  // namespace
}  // namespace dsv3::server
