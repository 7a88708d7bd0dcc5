// The Anthropic Messages API: requests translated into OpenAI chat bodies
// (and from there into engine Jobs), bad fields named, the error shape, and
// the message and stream events built from a job's events.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "server/anthropic_request.h"
#include "server/anthropic_response.h"
#include "server/api_error.h"

namespace dsv3::server {
namespace {

using nlohmann::json;

// A model without weights: one token per byte of the messages' JSON.
ModelInfo fake_model() {
  ModelInfo m;
  m.id = "tiny";
  m.vocab_size = 300;
  m.context = 4096;
  m.eos_ids = {1};
  m.render_chat = [](const nlohmann::ordered_json& msgs, const nlohmann::ordered_json& tools,
                     const nlohmann::ordered_json& kwargs) -> Result<std::string> {
    std::string s = msgs.dump();
    if (!tools.is_null()) s += "<tools>" + tools.dump();
    if (kwargs.is_object() && !kwargs.empty()) s += "<kwargs>" + kwargs.dump();
    return s + "<assistant>";
  };
  m.template_renders_tools = true;
  m.encode = [](std::string_view s) {
    std::vector<int32_t> ids;
    for (unsigned char c : s) ids.push_back(c);
    return ids;
  };
  return m;
}

const ModelInfo& model() {
  static const ModelInfo m = fake_model();
  return m;
}

json request(json extra = json::object()) {
  json j = {{"model", "claude-x"}, {"max_tokens", 16}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

json translated(const json& body, AnthropicEndpoint e = AnthropicEndpoint::kMessages) {
  auto r = anthropic_to_openai(body, e);
  if (auto* err = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << err->message << " (param " << err->param << ")";
    return {};
  }
  return std::get<json>(r);
}

ApiError refused(const json& body, AnthropicEndpoint e = AnthropicEndpoint::kMessages) {
  auto r = anthropic_to_openai(body, e);
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << "accepted: " << body.dump();
    return {};
  }
  return std::get<ApiError>(r);
}

TEST(AnthropicRequest, SamplingFieldsMapToOpenAi) {
  const json o = translated(request({{"temperature", 0.5},
                                     {"top_p", 0.9},
                                     {"top_k", 40},
                                     {"stop_sequences", json::array({"END", "STOP"})},
                                     {"stream", true},
                                     {"metadata", {{"user_id", "u1"}}},
                                     {"some_future_field", 1}}));
  EXPECT_EQ(o["model"], "claude-x");
  EXPECT_EQ(o["max_tokens"], 16);
  EXPECT_EQ(o["temperature"], 0.5);
  EXPECT_EQ(o["top_p"], 0.9);
  EXPECT_EQ(o["top_k"], 40);
  EXPECT_EQ(o["stop"], json({"END", "STOP"}));
  EXPECT_EQ(o["stream"], true);
  EXPECT_FALSE(o.contains("metadata"));
  EXPECT_EQ(o["messages"], json::parse(R"([{"role":"user","content":"hi"}])"));
}

TEST(AnthropicRequest, SystemStringOrTextBlocks) {
  json o = translated(request({{"system", "be brief"}}));
  EXPECT_EQ(o["messages"][0], json::parse(R"({"role":"system","content":"be brief"})"));
  o = translated(request({{"system", json::parse(R"([{"type":"text","text":"a"},{"type":"text","text":"b",
                                                     "cache_control":{"type":"ephemeral"}}])")}}));
  EXPECT_EQ(o["messages"][0], json::parse(R"({"role":"system","content":"a\nb"})"));
  EXPECT_EQ(o["messages"].size(), 2u);
}

TEST(AnthropicRequest, ToolUseAndToolResultBecomeToolCallsAndToolMessages) {
  const json body = request({{"messages", json::parse(R"([
    {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "hmm", "signature": "s"},
      {"type": "text", "text": "Let me look."},
      {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
      {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "no such city"}],
       "is_error": true},
      {"type": "text", "text": "thanks"}]},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_3", "name": "noop", "input": {}}]}
  ])")}});
  const json m = translated(body)["messages"];
  ASSERT_EQ(m.size(), 6u) << m.dump();
  EXPECT_EQ(m[0], json::parse(R"({"role":"user","content":"weather?"})"));
  EXPECT_EQ(m[1], json::parse(R"({"role":"assistant","content":"Let me look.","tool_calls":[
    {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]})"));
  EXPECT_EQ(m[2], json::parse(R"({"role":"tool","tool_call_id":"toolu_1","content":"sunny"})"));
  EXPECT_EQ(m[3], json::parse(R"({"role":"tool","tool_call_id":"toolu_2","content":"Error: no such city"})"));
  EXPECT_EQ(m[4], json::parse(R"({"role":"user","content":"thanks"})"));
  // no text: content null, as DeepSeek's templates expect of a bare call
  EXPECT_EQ(m[5], json::parse(R"({"role":"assistant","content":null,"tool_calls":[
    {"id":"toolu_3","type":"function","function":{"name":"noop","arguments":"{}"}}]})"));
}

TEST(AnthropicRequest, ToolsToolChoiceAndThinking) {
  const json o = translated(request({{"tools", json::parse(R"([{"name":"get_weather","description":"Weather now",
      "input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}])")},
                                     {"tool_choice", {{"type", "tool"}, {"name", "get_weather"}, {"disable_parallel_tool_use", true}}},
                                     {"thinking", {{"type", "enabled"}, {"budget_tokens", 2048}}}}));
  EXPECT_EQ(o["tools"], json::parse(R"([{"type":"function","function":{"name":"get_weather","description":"Weather now",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])"));
  EXPECT_EQ(o["tool_choice"], json::parse(R"({"type":"function","function":{"name":"get_weather"}})"));
  EXPECT_EQ(o["parallel_tool_calls"], false);
  EXPECT_EQ(o["chat_template_kwargs"], json::parse(R"({"thinking":true})"));
  EXPECT_EQ(translated(request({{"tool_choice", {{"type", "auto"}}}}))["tool_choice"], "auto");
  EXPECT_EQ(translated(request({{"tool_choice", {{"type", "any"}}}}))["tool_choice"], "required");
  EXPECT_EQ(translated(request({{"tool_choice", {{"type", "none"}}}}))["tool_choice"], "none");
  EXPECT_FALSE(translated(request({{"tool_choice", {{"type", "auto"}}}})).contains("parallel_tool_calls"));
  EXPECT_EQ(translated(request({{"thinking", {{"type", "disabled"}}}}))["chat_template_kwargs"]["thinking"], false);
}

TEST(AnthropicRequest, EachBadFieldIsNamed) {
  struct Case {
    json body;
    std::string param;
  };
  const std::vector<Case> cases = {
      {json::array(), ""},
      {json::parse(R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})"), "model"},
      {request({{"model", 5}}), "model"},
      {json::parse(R"({"model":"m","messages":[{"role":"user","content":"x"}]})"), "max_tokens"},
      {request({{"max_tokens", "5"}}), "max_tokens"},
      {request({{"max_tokens", 0}}), "max_tokens"},
      {request({{"max_tokens", 1.5}}), "max_tokens"},
      {request({{"temperature", 1.5}}), "temperature"},
      {request({{"temperature", "hot"}}), "temperature"},
      {request({{"top_p", 2}}), "top_p"},
      {request({{"top_k", -1}}), "top_k"},
      {request({{"top_k", 0.5}}), "top_k"},
      {request({{"stop_sequences", "END"}}), "stop_sequences"},
      {request({{"stop_sequences", json::array({1})}}), "stop_sequences[0]"},
      {request({{"stream", "yes"}}), "stream"},
      {request({{"system", 5}}), "system"},
      {request({{"system", json::parse(R"([{"type":"image"}])")}}), "system[0].type"},
      {request({{"messages", "hi"}}), "messages"},
      {request({{"messages", json::array()}}), "messages"},
      {request({{"messages", json::array({5})}}), "messages[0]"},
      {request({{"messages", json::parse(R"([{"content":"x"}])")}}), "messages[0].role"},
      {request({{"messages", json::parse(R"([{"role":"system","content":"x"}])")}}), "messages[0].role"},
      {request({{"messages", json::parse(R"([{"role":"user"}])")}}), "messages[0].content"},
      {request({{"messages", json::parse(R"([{"role":"user","content":7}])")}}), "messages[0].content"},
      {request({{"messages", json::parse(R"([{"role":"user","content":[{"text":"x"}]}])")}}), "messages[0].content[0].type"},
      {request({{"messages", json::parse(R"([{"role":"user","content":[{"type":"text"}]}])")}}),
       "messages[0].content[0].text"},
      {request({{"messages", json::parse(R"([{"role":"user","content":[{"type":"image","source":{}}]}])")}}),
       "messages[0].content[0].type"},
      {request({{"messages", json::parse(R"([{"role":"user","content":[{"type":"tool_result"}]}])")}}),
       "messages[0].content[0].tool_use_id"},
      {request({{"messages", json::parse(R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t",
          "is_error":"yes"}]}])")}}),
       "messages[0].content[0].is_error"},
      {request({{"messages", json::parse(R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t",
          "content":{"a":1}}]}])")}}),
       "messages[0].content[0].content"},
      {request({{"messages", json::parse(R"([{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f",
          "input":"{}"}]}])")}}),
       "messages[0].content[0].input"},
      {request({{"messages", json::parse(R"([{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}])")}}),
       "messages[0].content[0].id"},
      {request({{"messages", json::parse(R"([{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}])")}}),
       "messages[0].content[0].type"},
      {request({{"tools", json::parse("[5]")}}), "tools[0]"},
      {request({{"tools", json::parse(R"([{"input_schema":{}}])")}}), "tools[0].name"},
      {request({{"tools", json::parse(R"([{"name":"f"}])")}}), "tools[0].input_schema"},
      {request({{"tools", json::parse(R"([{"name":"f","input_schema":[]}])")}}), "tools[0].input_schema"},
      {request({{"tools", json::parse(R"([{"name":"f","description":3,"input_schema":{}}])")}}), "tools[0].description"},
      {request({{"tool_choice", "auto"}}), "tool_choice"},
      {request({{"tool_choice", {{"type", "sometimes"}}}}), "tool_choice.type"},
      {request({{"tool_choice", {{"type", "tool"}}}}), "tool_choice.name"},
      {request({{"tool_choice", {{"type", "auto"}, {"disable_parallel_tool_use", 1}}}}),
       "tool_choice.disable_parallel_tool_use"},
      {request({{"thinking", true}}), "thinking"},
      {request({{"thinking", {{"type", "maybe"}}}}), "thinking.type"},
      {request({{"thinking", {{"type", "enabled"}}}}), "thinking.budget_tokens"},
      {request({{"thinking", {{"type", "enabled"}, {"budget_tokens", "many"}}}}), "thinking.budget_tokens"},
  };
  for (const Case& c : cases) {
    const ApiError e = refused(c.body);
    EXPECT_EQ(e.status, 400) << c.body.dump();
    EXPECT_EQ(e.param, c.param) << c.body.dump() << ": " << e.message;
    EXPECT_NE(e.message.find(c.param), std::string::npos) << e.message;  // Anthropic's errors have no param
  }
}

TEST(AnthropicRequest, CountTokensNeedsNoMaxTokens) {
  json body = request();
  body.erase("max_tokens");
  EXPECT_FALSE(translated(body, AnthropicEndpoint::kCountTokens).contains("max_tokens"));
  auto n = count_anthropic_tokens(body.dump(), model());
  ASSERT_TRUE(std::holds_alternative<int64_t>(n));
  const std::string prompt = R"([{"role":"user","content":"hi"}]<assistant>)";
  EXPECT_EQ(std::get<int64_t>(n), static_cast<int64_t>(prompt.size()));
  // past the context, still counted: nothing is generated
  body["messages"][0]["content"] = std::string(5000, 'x');
  n = count_anthropic_tokens(body.dump(), model());
  ASSERT_TRUE(std::holds_alternative<int64_t>(n));
  EXPECT_GT(std::get<int64_t>(n), 5000);
  n = count_anthropic_tokens("{not json", model());
  ASSERT_TRUE(std::holds_alternative<ApiError>(n));
  EXPECT_EQ(std::get<ApiError>(n).status, 400);
}

TEST(AnthropicRequest, ParsedIntoAJob) {
  ParseResult r = parse_anthropic_request(
      request({{"max_tokens", 7}, {"stop_sequences", json::array({"END"})}, {"temperature", 0.0}, {"stream", true}}).dump(), model());
  ASSERT_TRUE(std::holds_alternative<ParsedRequest>(r)) << std::get<ApiError>(r).message;
  const ParsedRequest& p = std::get<ParsedRequest>(r);
  EXPECT_EQ(p.job.max_tokens, 7);
  EXPECT_EQ(p.job.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(p.job.sampling.temperature, 0.0f);
  EXPECT_TRUE(p.stream);
  const std::string prompt = R"([{"role":"user","content":"hi"}]<assistant>)";
  EXPECT_EQ(p.job.prompt, std::vector<int32_t>(prompt.begin(), prompt.end()));

  // tool history and thinking reach the template as the OpenAI parser passes them on
  r = parse_anthropic_request(request({{"thinking", {{"type", "enabled"}, {"budget_tokens", 1024}}},
                                       {"messages", json::parse(R"([
    {"role": "user", "content": "weather?"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}])")}})
                                  .dump(),
                              model());
  ASSERT_TRUE(std::holds_alternative<ParsedRequest>(r)) << std::get<ApiError>(r).message;
  const auto& ids = std::get<ParsedRequest>(r).job.prompt;
  const std::string rendered(ids.begin(), ids.end());
  EXPECT_NE(rendered.find(R"("tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather")"),
            std::string::npos)
      << rendered;
  EXPECT_NE(rendered.find(R"({"role":"tool","content":"sunny","tool_call_id":"toolu_1"})"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find(R"(<kwargs>{"thinking":true})"), std::string::npos) << rendered;

  for (const char* body : {"", "{", "[1,2", "null", "\"x\""}) {
    r = parse_anthropic_request(body, model());
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << body;
    EXPECT_EQ(std::get<ApiError>(r).status, 400);
  }
  r = parse_anthropic_request(std::string(1000, '['), model());
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  EXPECT_EQ(std::get<ApiError>(r).status, 400);
}

TEST(AnthropicErrors, ShapeAndTypeByStatus) {
  const std::vector<std::pair<int, const char*>> types = {
      {400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
      {404, "not_found_error"},       {405, "invalid_request_error"}, {413, "request_too_large"},
      {429, "rate_limit_error"},      {500, "api_error"},             {503, "overloaded_error"}};
  for (const auto& [status, type] : types) {
    ApiError e = invalid(status, "x", "bad thing", "");
    const json b = anthropic_error_body(e);
    EXPECT_EQ(b, json({{"type", "error"}, {"error", {{"type", type}, {"message", "bad thing"}}}})) << status;
    EXPECT_EQ(error_body(e, ErrorShape::kAnthropic), b);
    EXPECT_EQ(error_body(e, ErrorShape::kOpenAI), error_body(e));
  }
  EXPECT_EQ(anthropic_error_body(unauthorized(true))["error"]["type"], "authentication_error");
}

JobEvent last_event(FinishReason why, std::string_view stop = {}) {
  JobEvent e;
  e.done = true;
  e.finish = why;
  e.stop_string = stop;
  e.usage.prompt_tokens = 11;
  e.usage.completion_tokens = 5;
  return e;
}

TEST(AnthropicResponse, StopReasons) {
  EXPECT_EQ(anthropic_stop_reason(last_event(FinishReason::kStop), false), "end_turn");
  EXPECT_EQ(anthropic_stop_reason(last_event(FinishReason::kStop), true), "tool_use");
  EXPECT_EQ(anthropic_stop_reason(last_event(FinishReason::kStop, "END"), false), "stop_sequence");
  EXPECT_EQ(anthropic_stop_reason(last_event(FinishReason::kLength), true), "max_tokens");
}

TEST(AnthropicResponse, WholeMessage) {
  const json m = anthropic_message("tiny", "Hello there", {}, last_event(FinishReason::kStop, "END"));
  EXPECT_TRUE(m["id"].get<std::string>().starts_with("msg_"));
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["role"], "assistant");
  EXPECT_EQ(m["model"], "tiny");
  EXPECT_EQ(m["content"], json::parse(R"([{"type":"text","text":"Hello there"}])"));
  EXPECT_EQ(m["stop_reason"], "stop_sequence");
  EXPECT_EQ(m["stop_sequence"], "END");
  EXPECT_EQ(m["usage"], json::parse(R"({"input_tokens":11,"output_tokens":5})"));
  const json empty = anthropic_message("tiny", "", {}, last_event(FinishReason::kLength));
  EXPECT_EQ(empty["content"], json::array());
  EXPECT_EQ(empty["stop_reason"], "max_tokens");
  EXPECT_TRUE(empty["stop_sequence"].is_null());
}

std::vector<std::string> names(const std::vector<AnthropicStream::Event>& events) {
  std::vector<std::string> n;
  for (const auto& e : events) {
    n.push_back(e.name);
    EXPECT_EQ(e.data["type"], e.name);  // the payload's type is the event's name
  }
  return n;
}

TEST(AnthropicResponse, TextStream) {
  AnthropicStream s("tiny", {}, 11);
  const auto start = s.start();
  EXPECT_EQ(names(start), (std::vector<std::string>{"message_start", "ping"}));
  const json& msg = start[0].data["message"];
  EXPECT_EQ(msg["id"], s.id());
  EXPECT_EQ(msg["content"], json::array());
  EXPECT_EQ(msg["usage"]["input_tokens"], 11);
  EXPECT_TRUE(msg["stop_reason"].is_null());

  auto a = s.delta("Hel");
  EXPECT_EQ(names(a), (std::vector<std::string>{"content_block_start", "content_block_delta"}));
  EXPECT_EQ(a[0].data["index"], 0);
  EXPECT_EQ(a[0].data["content_block"], json::parse(R"({"type":"text","text":""})"));
  EXPECT_EQ(a[1].data["delta"], json::parse(R"({"type":"text_delta","text":"Hel"})"));
  auto b = s.delta("lo");
  EXPECT_EQ(names(b), (std::vector<std::string>{"content_block_delta"}));
  EXPECT_EQ(b[0].data["index"], 0);
  EXPECT_TRUE(s.delta("").empty());
  auto end = s.finish(last_event(FinishReason::kLength));
  EXPECT_EQ(names(end), (std::vector<std::string>{"content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(end[0].data["index"], 0);
  EXPECT_EQ(end[1].data["delta"], json::parse(R"({"stop_reason":"max_tokens","stop_sequence":null})"));
  EXPECT_EQ(end[1].data["usage"], json::parse(R"({"output_tokens":5})"));
}

TEST(AnthropicResponse, EmptyStreamHasNoBlocks) {
  AnthropicStream s("tiny", {}, 3);
  auto end = s.finish(last_event(FinishReason::kStop, "X"));
  EXPECT_EQ(names(end), (std::vector<std::string>{"message_delta", "message_stop"}));
  EXPECT_EQ(end[0].data["delta"]["stop_sequence"], "X");
}

// Thinking and tool calls are told apart by text::AssistantOutputParser.
const std::string kBar = "\xef\xbd\x9c", kSep = "\xe2\x96\x81";  // U+FF5C, U+2581
std::string marker(const std::string& words) {
  std::string w = words;
  for (std::size_t at; (at = w.find(' ')) != std::string::npos;) w.replace(at, 1, kSep);
  return "<" + kBar + w + kBar + ">";
}
const std::string kCalls = "Sure." + marker("tool calls begin") + marker("tool call begin") + "get_weather" +
                           marker("tool sep") + R"({"city":"Paris"})" + marker("tool call end") +
                           marker("tool call begin") + "broken" + marker("tool sep") + "{oops" +
                           marker("tool call end") + marker("tool calls end");
constexpr text::OutputFormat kV31{.tools = text::ToolCallFormat::kDeepSeekV31, .reasoning = true};

TEST(AnthropicResponse, ThinkingTextAndToolUseBlocks) {
  const json m = anthropic_message("tiny", "<think>why</think>" + kCalls, kV31, last_event(FinishReason::kStop));
  const json& c = m["content"];
  ASSERT_EQ(c.size(), 5u) << c.dump();
  EXPECT_EQ(c[0], json::parse(R"({"type":"thinking","thinking":"why","signature":""})"));
  EXPECT_EQ(c[1], json::parse(R"({"type":"text","text":"Sure."})"));
  EXPECT_EQ(c[2]["type"], "tool_use");
  EXPECT_TRUE(c[2]["id"].get<std::string>().starts_with("toolu_"));
  EXPECT_EQ(c[2]["name"], "get_weather");
  EXPECT_EQ(c[2]["input"], json::parse(R"({"city":"Paris"})"));
  // arguments that are not JSON: an empty input, the raw text kept beside it
  EXPECT_EQ(c[3]["name"], "broken");
  EXPECT_EQ(c[3]["input"], json::object());
  EXPECT_EQ(c[4], json::parse(R"({"type":"text","text":"{oops"})"));
  EXPECT_EQ(m["stop_reason"], "tool_use");
}

TEST(AnthropicResponse, StreamedBlocksAddUpToTheMessage) {
  const std::string text = "<think>why</think>" + kCalls;
  AnthropicStream s("tiny", kV31, 3);
  std::vector<AnthropicStream::Event> events;
  for (std::size_t i = 0; i < text.size(); i += 3)  // pieces that split markers
    for (auto& e : s.delta(std::string_view(text).substr(i, 3))) events.push_back(std::move(e));
  for (auto& e : s.finish(last_event(FinishReason::kStop))) events.push_back(std::move(e));
  // rebuilt as a client does: blocks by index, deltas appended
  json blocks = json::array();
  std::vector<std::string> partial_json;
  int open = -1;
  for (const auto& e : events) {
    const json& d = e.data;
    if (e.name == "content_block_start") {
      ASSERT_EQ(open, -1) << "a block opened inside another";
      open = d["index"].get<int>();
      ASSERT_EQ(open, static_cast<int>(blocks.size()));
      blocks.push_back(d["content_block"]);
      partial_json.emplace_back();
    } else if (e.name == "content_block_delta") {
      ASSERT_EQ(d["index"].get<int>(), open);
      const json& delta = d["delta"];
      json& b = blocks[open];
      if (delta["type"] == "text_delta") b["text"] = b["text"].get<std::string>() + delta["text"].get<std::string>();
      if (delta["type"] == "thinking_delta")
        b["thinking"] = b["thinking"].get<std::string>() + delta["thinking"].get<std::string>();
      if (delta["type"] == "input_json_delta") partial_json[open] += delta["partial_json"].get<std::string>();
    } else if (e.name == "content_block_stop") {
      ASSERT_EQ(d["index"].get<int>(), open);
      open = -1;
    }
  }
  EXPECT_EQ(open, -1);
  EXPECT_EQ(events.back().name, "message_stop");
  EXPECT_EQ(events[events.size() - 2].data["delta"]["stop_reason"], "tool_use");
  ASSERT_EQ(blocks.size(), 4u) << blocks.dump();
  EXPECT_EQ(blocks[0]["thinking"], "why");
  EXPECT_EQ(blocks[1]["text"], "Sure.");
  EXPECT_EQ(blocks[2]["name"], "get_weather");
  EXPECT_EQ(json::parse(partial_json[2]), json::parse(R"({"city":"Paris"})"));
  EXPECT_EQ(blocks[3]["name"], "broken");
  EXPECT_EQ(partial_json[3], "{oops");
}

}  // namespace
}  // namespace dsv3::server
