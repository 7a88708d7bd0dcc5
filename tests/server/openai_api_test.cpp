// Parsing and checking OpenAI requests into engine Jobs, and the response shapes.
#include "server/openai_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dsv3::server {
namespace {

using nlohmann::json;

// A model without weights: one token per byte, a template that tags each message.
ModelInfo fake_model() {
  ModelInfo m;
  m.id = "tiny";
  m.vocab_size = 300;
  m.context = 64;
  m.bos_id = 0;
  m.eos_ids = {1};
  m.defaults.temperature = 0.6f;
  m.defaults.top_p = 0.95f;
  m.render_chat = [](const nlohmann::ordered_json& msgs, const nlohmann::ordered_json&,
                     const nlohmann::ordered_json&) -> Result<std::string> {
    std::string s;
    for (const auto& msg : msgs) s += "<" + msg["role"].get<std::string>() + ">" + msg["content"].get<std::string>();
    return s + "<assistant>";
  };
  m.encode = [](std::string_view s) {
    std::vector<int32_t> ids;
    for (unsigned char c : s) ids.push_back(c);
    return ids;
  };
  m.token_text = [](int32_t id) { return std::string(1, static_cast<char>(id)); };
  return m;
}

const ModelInfo& model() {
  static const ModelInfo m = fake_model();
  return m;
}

json chat(json extra = json::object()) {
  json j = {{"model", "tiny"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

ParsedRequest ok(Endpoint e, const json& body) {
  ParseResult r = parse_request_json(e, body, model());
  if (auto* err = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << err->message << " (param " << err->param << ")";
    return {};
  }
  return std::get<ParsedRequest>(r);
}

ApiError bad(Endpoint e, const json& body) {
  ParseResult r = parse_request_json(e, body, model());
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << "accepted: " << body.dump();
    return {};
  }
  return std::get<ApiError>(r);
}

TEST(OpenAiParse, ChatFieldsReachTheJob) {
  const ParsedRequest p = ok(Endpoint::kChat, chat({{"temperature", 0.25},
                                                    {"top_p", 0.5},
                                                    {"max_tokens", 7},
                                                    {"stop", "x"},
                                                    {"seed", 42},
                                                    {"frequency_penalty", 0.5},
                                                    {"presence_penalty", -0.5},
                                                    {"logit_bias", {{"65", 5}}},
                                                    {"logprobs", true},
                                                    {"top_logprobs", 3},
                                                    {"stream", true},
                                                    {"stream_options", {{"include_usage", true}}}}));
  const std::string text = "<user>hi<assistant>";
  EXPECT_EQ(p.job.prompt, std::vector<int32_t>(text.begin(), text.end()));
  EXPECT_FLOAT_EQ(p.job.sampling.temperature, 0.25f);
  EXPECT_FLOAT_EQ(p.job.sampling.top_p, 0.5f);
  EXPECT_EQ(p.job.max_tokens, 7);
  EXPECT_EQ(p.job.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(p.job.sampling.seed, std::optional<uint64_t>(42));
  EXPECT_FLOAT_EQ(p.job.sampling.frequency_penalty, 0.5f);
  EXPECT_FLOAT_EQ(p.job.sampling.presence_penalty, -0.5f);
  ASSERT_EQ(p.job.sampling.logit_bias.size(), 1u);
  EXPECT_EQ(p.job.sampling.logit_bias[0], (std::pair<int32_t, float>{65, 5.0f}));
  EXPECT_EQ(p.job.top_logprobs, 3);
  EXPECT_TRUE(p.logprobs && p.stream && p.include_usage);
  EXPECT_EQ(p.job.stop_tokens, std::vector<int32_t>{1});
}

TEST(OpenAiParse, DefaultsComeFromTheModelAndTheContext) {
  const ParsedRequest p = ok(Endpoint::kChat, chat());
  EXPECT_FLOAT_EQ(p.job.sampling.temperature, 0.6f);
  EXPECT_FLOAT_EQ(p.job.sampling.top_p, 0.95f);
  EXPECT_EQ(p.job.max_tokens, 64 - static_cast<int64_t>(p.job.prompt.size()));  // what the context leaves
  EXPECT_EQ(p.job.top_logprobs, -1);
  EXPECT_FALSE(p.stream);
}

TEST(OpenAiParse, NullsCountAsAbsentAndUnknownFieldsAreIgnored) {
  const ParsedRequest p = ok(Endpoint::kChat, chat({{"temperature", nullptr}, {"stop", nullptr}, {"user", "u1"}, {"n", 1}}));
  EXPECT_FLOAT_EQ(p.job.sampling.temperature, 0.6f);
  EXPECT_TRUE(p.job.stop.empty());
}

TEST(OpenAiParse, MaxTokensIsCutToTheContextLeft) {
  const ParsedRequest p = ok(Endpoint::kChat, chat({{"max_completion_tokens", 64}}));
  EXPECT_EQ(p.job.max_tokens, 64 - static_cast<int64_t>(p.job.prompt.size()));
}

TEST(OpenAiParse, ContentPartsAndDeveloperRole) {
  json msgs = json::array({{{"role", "developer"}, {"content", "be brief"}},
                           {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}})}}});
  const ParsedRequest p = ok(Endpoint::kChat, chat({{"messages", msgs}}));
  const std::string text = "<system>be brief<user>ab<assistant>";
  EXPECT_EQ(p.job.prompt, std::vector<int32_t>(text.begin(), text.end()));
}

TEST(OpenAiParse, EachBadFieldIsNamed) {
  struct Case {
    json body;
    std::string param;
  };
  const std::vector<Case> cases = {
      {chat({{"temperature", "hot"}}), "temperature"},
      {chat({{"temperature", 3}}), "temperature"},
      {chat({{"top_p", 1.5}}), "top_p"},
      {chat({{"max_tokens", 0}}), "max_tokens"},
      {chat({{"max_tokens", 2.5}}), "max_tokens"},
      {chat({{"max_tokens", -1}}), "max_tokens"},
      {chat({{"max_completion_tokens", "10"}}), "max_completion_tokens"},
      {chat({{"n", 2}}), "n"},
      {chat({{"stop", 5}}), "stop"},
      {chat({{"stop", json::array({"a", 1})}}), "stop[1]"},
      {chat({{"seed", "x"}}), "seed"},
      {chat({{"frequency_penalty", 2.5}}), "frequency_penalty"},
      {chat({{"presence_penalty", true}}), "presence_penalty"},
      {chat({{"logit_bias", {{"abc", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"999", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{" 5", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"+5", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"5 ", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"05", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"-1", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"99999999999999999999", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"5", 101}}}}), "logit_bias"},
      {chat({{"logit_bias", json::array()}}), "logit_bias"},
      {chat({{"logprobs", 1}}), "logprobs"},
      {chat({{"top_logprobs", 2}}), "top_logprobs"},
      {chat({{"logprobs", true}, {"top_logprobs", 21}}), "top_logprobs"},
      {chat({{"stream", "yes"}}), "stream"},
      {chat({{"stream_options", {{"include_usage", "yes"}}}}), "stream_options.include_usage"},
      {chat({{"model", 5}}), "model"},
      {chat({{"messages", "hi"}}), "messages"},
      {chat({{"messages", json::array()}}), "messages"},
      {chat({{"messages", json::array({5})}}), "messages[0]"},
      {chat({{"messages", json::array({{{"content", "x"}}})}}), "messages[0].role"},
      {chat({{"messages", json::array({{{"role", "wizard"}, {"content", "x"}}})}}), "messages[0].role"},
      {chat({{"messages", json::array({{{"role", "user"}}})}}), "messages[0].content"},
      {chat({{"messages", json::array({{{"role", "user"}, {"content", 7}}})}}), "messages[0].content"},
      {chat({{"messages", json::array({{{"role", "user"}, {"content", json::array({{{"type", "image_url"}}})}}})}}),
       "messages[0].content[0].type"},
      {chat({{"messages", json::array({{{"role", "user"}, {"content", std::string(100, 'x')}}})}}), "messages"},
  };
  for (const Case& c : cases) {
    const ApiError e = bad(Endpoint::kChat, c.body);
    EXPECT_EQ(e.status, 400) << c.body.dump();
    EXPECT_EQ(e.param, c.param) << c.body.dump() << ": " << e.message;
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(OpenAiParse, MissingModelAndAnyModelName) {
  json j = chat();
  j.erase("model");
  EXPECT_EQ(bad(Endpoint::kChat, j).param, "model");
  EXPECT_EQ(bad(Endpoint::kChat, chat({{"model", 5}})).param, "model");
  // by default any name is served by the one model
  EXPECT_EQ(ok(Endpoint::kChat, chat({{"model", "gpt-4"}})).job.prompt.empty(), false);
  EXPECT_EQ(ok(Endpoint::kCompletion, {{"model", ""}, {"prompt", "a"}}).job.prompt.size(), 2u);
}

TEST(OpenAiParse, StrictModelNameRefusesOthers) {
  ModelInfo strict = fake_model();
  strict.strict_model_name = true;
  ParseResult r = parse_request_json(Endpoint::kChat, chat({{"model", "gpt-4"}}), strict);
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  EXPECT_EQ(std::get<ApiError>(r).status, 404);
  EXPECT_EQ(std::get<ApiError>(r).code, "model_not_found");
  EXPECT_TRUE(std::holds_alternative<ParsedRequest>(parse_request_json(Endpoint::kChat, chat(), strict)));
}

TEST(OpenAiParse, MaxTokensPastTheContextIsCutToTheRoomLeft) {
  const std::string text = "<user>hi<assistant>";
  const int64_t room = 64 - static_cast<int64_t>(text.size());
  EXPECT_EQ(ok(Endpoint::kChat, chat({{"max_tokens", 65}})).job.max_tokens, room);
  EXPECT_EQ(ok(Endpoint::kChat, chat({{"max_tokens", int64_t{1} << 40}})).job.max_tokens, room);
  EXPECT_EQ(ok(Endpoint::kChat, chat({{"max_completion_tokens", 1000000}})).job.max_tokens, room);
  EXPECT_EQ(ok(Endpoint::kChat, chat({{"max_tokens", room - 1}})).job.max_tokens, room - 1);
  EXPECT_EQ(ok(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 1000}}).job.max_tokens, 64 - 3);
  // still positive integers only
  EXPECT_EQ(bad(Endpoint::kChat, chat({{"max_tokens", 0}})).param, "max_tokens");
  EXPECT_EQ(bad(Endpoint::kChat, chat({{"max_completion_tokens", -5}})).param, "max_completion_tokens");
  EXPECT_EQ(bad(Endpoint::kChat, chat({{"max_tokens", 1e30}})).param, "max_tokens");
}

TEST(OpenAiParse, PromptPastTheContext) {
  const ApiError e = bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", std::string(70, 'a')}});
  EXPECT_EQ(e.param, "prompt");
  EXPECT_EQ(e.code, "context_length_exceeded");
}

TEST(OpenAiParse, MalformedJson) {
  for (const char* body : {"", "{", "{\"model\":", "nul", "[1,2", "\"text\"", "[]", "42"}) {
    ParseResult r = parse_request(Endpoint::kChat, std::string_view(body), model());
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << body;
    EXPECT_EQ(std::get<ApiError>(r).status, 400) << body;
  }
}

TEST(OpenAiParse, CompletionPrompts) {
  ParsedRequest p = ok(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 3}});
  EXPECT_EQ(p.job.prompt, (std::vector<int32_t>{0, 'a', 'b'}));  // BOS first
  p = ok(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", {5, 6, 7}}});
  EXPECT_EQ(p.job.prompt, (std::vector<int32_t>{5, 6, 7}));
  p = ok(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", {"ab"}}});
  EXPECT_EQ(p.job.prompt, (std::vector<int32_t>{0, 'a', 'b'}));
  p = ok(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", json::array({json::array({9, 8})})}, {"logprobs", 2}});
  EXPECT_EQ(p.job.prompt, (std::vector<int32_t>{9, 8}));
  EXPECT_EQ(p.job.top_logprobs, 2);

  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", {5, 300}}}).param, "prompt[1]");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", {5, -1}}}).param, "prompt[1]");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", {5, "x"}}}).param, "prompt");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", {"a", "b"}}}).param, "prompt");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", json::array()}}).param, "prompt");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", 5}}).param, "prompt");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}}).param, "prompt");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", "a"}, {"echo", true}}).param, "echo");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", "a"}, {"best_of", 3}}).param, "best_of");
  EXPECT_EQ(bad(Endpoint::kCompletion, {{"model", "tiny"}, {"prompt", "a"}, {"logprobs", true}}).param, "logprobs");
}

TEST(OpenAiParse, StopListsDropEmptyStrings) {
  const ParsedRequest p = ok(Endpoint::kChat, chat({{"stop", {"a", "", "bc"}}}));
  EXPECT_EQ(p.job.stop, (std::vector<std::string>{"a", "bc"}));
}

TEST(OpenAiResponse, ChatShapes) {
  ResponseBuilder b(Endpoint::kChat, "tiny", model());
  EXPECT_EQ(b.id().rfind("chatcmpl-", 0), 0u);
  JobUsage u;
  u.prompt_tokens = 5;
  u.completion_tokens = 3;
  u.cached_prompt_tokens = 2;
  const std::vector<TokenLogprob> lp = {{'h', -0.5f, {{'h', -0.5f}, {'x', -1.5f}}}};
  const json full = b.full("hey", FinishReason::kStop, u, lp, true);
  EXPECT_EQ(full["object"], "chat.completion");
  EXPECT_EQ(full["model"], "tiny");
  EXPECT_EQ(full["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(full["choices"][0]["message"]["content"], "hey");
  EXPECT_EQ(full["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(full["choices"][0]["logprobs"]["content"][0]["token"], "h");
  EXPECT_EQ(full["choices"][0]["logprobs"]["content"][0]["bytes"], json::array({'h'}));
  EXPECT_EQ(full["choices"][0]["logprobs"]["content"][0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(full["usage"], json::parse(R"({"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,
                                          "prompt_tokens_details":{"cached_tokens":2}})"));
  EXPECT_EQ(b.role_chunk()["choices"][0]["delta"]["role"], "assistant");
  const json c = b.chunk("he", {}, false, nullptr);
  EXPECT_EQ(c["object"], "chat.completion.chunk");
  EXPECT_EQ(c["id"], b.id());
  EXPECT_EQ(c["choices"][0]["delta"]["content"], "he");
  EXPECT_TRUE(c["choices"][0]["finish_reason"].is_null());
  const FinishReason len = FinishReason::kLength;
  const json last = b.chunk("", {}, false, &len);
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  const json uc = b.usage_chunk(u);
  EXPECT_TRUE(uc["choices"].empty());
  EXPECT_EQ(uc["usage"]["total_tokens"], 8);
}

TEST(OpenAiResponse, CompletionShapesAndTextOffsets) {
  ResponseBuilder b(Endpoint::kCompletion, "tiny", model());
  EXPECT_EQ(b.id().rfind("cmpl-", 0), 0u);
  const json full = b.full("ab", FinishReason::kLength, {}, {}, false);
  EXPECT_EQ(full["object"], "text_completion");
  EXPECT_EQ(full["choices"][0]["text"], "ab");
  EXPECT_TRUE(full["choices"][0]["logprobs"].is_null());
  const std::vector<TokenLogprob> a = {{'a', -1.0f, {{'a', -1.0f}}}}, bb = {{'b', -2.0f, {}}};
  const json c1 = b.chunk("a", a, true, nullptr), c2 = b.chunk("b", bb, true, nullptr);
  EXPECT_EQ(c1["choices"][0]["text"], "a");
  EXPECT_EQ(c1["choices"][0]["logprobs"]["tokens"], json::array({"a"}));
  EXPECT_EQ(c1["choices"][0]["logprobs"]["top_logprobs"][0]["a"], -1.0);
  EXPECT_EQ(c1["choices"][0]["logprobs"]["text_offset"], json::array({0}));
  EXPECT_EQ(c2["choices"][0]["logprobs"]["text_offset"], json::array({1}));
}

TEST(OpenAiResponse, ErrorBodyAndInvalidUtf8) {
  const json e = error_body(invalid("max_tokens", "too big"));
  EXPECT_EQ(e["error"]["param"], "max_tokens");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(e["error"]["code"].is_null());
  // a token may be half a UTF-8 character; the wire JSON must still be valid
  const std::string s = dump(json{{"t", std::string("\xe4\xbd")}});
  EXPECT_TRUE(json::accept(s));
}

}  // namespace
}  // namespace dsv3::server
