// tools, tool_choice and response_format as the server reads them, on the
// tiny model's real tokenizer and chat template: the prompt, the output
// format, and a grammar that makes random tokens into valid tool calls.
#include "server/openai_tools.h"

#include <gtest/gtest.h>

#include <bit>
#include <random>

#include "grammar/token_trie.h"
#include "server/served_text.h"
#include "server/tool_grammar.h"
#include "support/golden.h"

namespace dsv3::server {
namespace {

using nlohmann::json;

struct Served {
  std::unique_ptr<text::Tokenizer> tok;
  std::unique_ptr<text::ChatTemplate> chat;
  ModelInfo info;
};

const Served& served() {
  // the text objects live on the heap: what attach_text captures stays put when s moves
  static const Served s = [] {
    Served s;
    s.tok = std::move(text::Tokenizer::load(test::model_dir("tiny") + "/tokenizer.json")).value();
    s.chat = std::make_unique<text::ChatTemplate>(std::move(text::ChatTemplate::load(test::model_dir("tiny"))).value());
    s.info.id = "tiny";
    s.info.vocab_size = 129280;
    s.info.context = 4096;
    s.info.eos_ids = {1};
    attach_text(s.info, *s.tok, s.chat.get());
    return s;
  }();
  return s;
}

const json kTools = json::parse(R"([
  {"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object",
    "properties":{"city":{"type":"string","maxLength":10},"days":{"type":"integer","minimum":1,"maximum":7}},
    "required":["city","days"],"additionalProperties":false}}},
  {"type":"function","function":{"name":"ping","parameters":{"type":"object","properties":{},"additionalProperties":false}}}])");

json chat(json extra) {
  json body = {{"model", "tiny"}, {"messages", json::array({{{"role", "user"}, {"content", "Weather in Oslo?"}}})}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

// Random tokens among those the job's constraint allows, until it allows only the end.
std::string draw(const ParsedRequest& p, uint64_t seed, int max_tokens = 300) {
  const auto& tok = *served().tok;
  auto c = p.job.constraint();
  std::vector<uint64_t> bits(static_cast<std::size_t>((served().info.vocab_size + 63) / 64));
  std::mt19937_64 rng(seed);
  std::string out;
  for (int used = 0; used < max_tokens; ++used) {
    std::fill(bits.begin(), bits.end(), 0);
    std::vector<int32_t> ids;
    if (c->allowed(bits, max_tokens - used)) {
      for (std::size_t w = 0; w < bits.size(); ++w)
        for (uint64_t b = bits[w]; b; b &= b - 1) ids.push_back(static_cast<int32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(b))));
    } else {
      ids = {static_cast<int32_t>(rng() % 1000) + 1000};  // free: any text
    }
    EXPECT_FALSE(ids.empty());
    const bool may_end = std::find(ids.begin(), ids.end(), 1) != ids.end();
    if (may_end && (ids.size() == 1 || rng() % 3 == 0)) break;
    int32_t t = ids[rng() % ids.size()];
    if (t == 1) t = ids[0] == 1 ? ids[1] : ids[0];
    c->accept(t);
    out += tok.token_bytes(t);
  }
  return out;
}

ParsedRequest parse_ok(const json& body) {
  auto r = parse_request_json(Endpoint::kChat, body, served().info);
  if (auto* e = std::get_if<ApiError>(&r)) ADD_FAILURE() << e->param << ": " << e->message;
  return std::get<ParsedRequest>(std::move(r));
}

TEST(OpenAiTools, RequiredToolChoiceMakesEveryAnswerAToolCallOfTheSchema) {
  const ParsedRequest p = parse_ok(chat({{"tools", kTools}, {"tool_choice", "required"}}));
  ASSERT_TRUE(p.job.constraint);
  EXPECT_EQ(p.output.tools, text::ToolCallFormat::kDeepSeekV3);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const std::string out = draw(p, seed);
    const auto parsed = text::parse_assistant_output(out, p.output);
    ASSERT_FALSE(parsed.tool_calls.empty()) << out;
    for (const auto& call : parsed.tool_calls) {
      const json args = json::parse(call.arguments, nullptr, false);
      ASSERT_TRUE(args.is_object()) << call.arguments;
      if (call.name == "get_weather") {
        EXPECT_LE(args.at("city").get<std::string>().size(), 40u);  // 10 code points, up to 4 bytes each
        EXPECT_GE(args.at("days").get<int>(), 1);
        EXPECT_LE(args.at("days").get<int>(), 7);
      } else {
        EXPECT_EQ(call.name, "ping");
        EXPECT_TRUE(args.empty());
      }
    }
  }
}

// Markers cost the one token each is: a budget of tokens, not bytes, is enough.
TEST(OpenAiTools, AShortBudgetStillClosesTheCall) {
  EXPECT_EQ(served().info.vocabulary->greedy_tokens(kToolCallsBegin), 1);
  EXPECT_EQ(served().info.vocabulary->greedy_tokens(std::string(kToolCallEnd) + kToolCallsEnd), 2);
  const ParsedRequest p = parse_ok(chat({{"tools", kTools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}}));
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const std::string out = draw(p, seed, 40);
    const auto parsed = text::parse_assistant_output(out, p.output);
    ASSERT_EQ(parsed.tool_calls.size(), 1u) << out;
    EXPECT_TRUE(json::parse(parsed.tool_calls[0].arguments, nullptr, false).is_object()) << out;
  }
}

TEST(OpenAiTools, TheTemplateWithoutToolsGetsThemInASystemMessage) {
  const ParsedRequest with = parse_ok(chat({{"tools", kTools}}));
  const ParsedRequest without = parse_ok(chat(json::object()));
  const std::string prompt = served().tok->decode(with.job.prompt);
  EXPECT_NE(prompt.find("### get_weather"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("\"maxLength\":10"), std::string::npos);
  EXPECT_GT(with.job.prompt.size(), without.job.prompt.size());
  EXPECT_EQ(without.output.tools, text::ToolCallFormat::kNone);
  EXPECT_FALSE(without.job.constraint);
}

TEST(OpenAiTools, AutoHoldsTheCallsOnlyOnceTheyBegin) {
  const ParsedRequest p = parse_ok(chat({{"tools", kTools}}));
  ASSERT_TRUE(p.job.constraint);
  auto c = p.job.constraint();
  std::vector<uint64_t> bits(static_cast<std::size_t>((served().info.vocab_size + 63) / 64));
  EXPECT_FALSE(c->allowed(bits, 100)) << "before the calls begin, any token";
  c->accept(100);
  EXPECT_FALSE(c->allowed(bits, 100));
  const auto begin = served().tok->encode(kToolCallsBegin);
  ASSERT_EQ(begin.size(), 1u);
  c->accept(begin[0]);
  EXPECT_TRUE(c->allowed(bits, 100));
  const auto call_begin = served().tok->encode(kToolCallBegin);
  ASSERT_EQ(call_begin.size(), 1u);
  EXPECT_TRUE(bits[static_cast<std::size_t>(call_begin[0]) / 64] >> (call_begin[0] % 64) & 1);
  EXPECT_FALSE(bits[0] >> 1 & 1) << "no end inside the calls";
}

TEST(OpenAiTools, NoneRendersToolsButNeitherHoldsNorParsesCalls) {
  const ParsedRequest p = parse_ok(chat({{"tools", kTools}, {"tool_choice", "none"}}));
  EXPECT_FALSE(p.job.constraint);
  EXPECT_EQ(p.output.tools, text::ToolCallFormat::kNone);
  EXPECT_NE(served().tok->decode(p.job.prompt).find("get_weather"), std::string::npos);
}

TEST(OpenAiTools, V31CallsFromTheirGrammarParse) {
  std::vector<CallableTool> tools = {{"lookup", json::parse(R"({"type":"object","properties":{"q":{"type":"string","maxLength":5}},"required":["q"]})")}};
  auto g = tool_call_grammar(tools, text::ToolCallFormat::kDeepSeekV31, 3, false);
  ASSERT_TRUE(g.ok());
  ParsedRequest p;
  p.output.tools = text::ToolCallFormat::kDeepSeekV31;
  p.job.constraint = grammar_constraint(GrammarSpec{*g}, served().info.vocabulary, {1});
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const std::string out = draw(p, seed);
    const auto parsed = text::parse_assistant_output(out, p.output);
    ASSERT_FALSE(parsed.tool_calls.empty()) << out;
    for (const auto& call : parsed.tool_calls) {
      EXPECT_EQ(call.name, "lookup");
      EXPECT_TRUE(json::parse(call.arguments, nullptr, false).contains("q")) << call.arguments;
    }
  }
}

TEST(OpenAiTools, JsonSchemaAnswersParse) {
  const ParsedRequest p = parse_ok(chat({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema",
      json::parse(R"({"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer","minimum":0,"maximum":9}},"required":["ok","n"]})")}}}}}}));
  ASSERT_TRUE(p.job.constraint);
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const json v = json::parse(draw(p, seed, 80), nullptr, false);
    ASSERT_TRUE(v.is_object());
    EXPECT_TRUE(v.at("ok").is_boolean());
    EXPECT_LE(v.at("n").get<int>(), 9);
  }
}

TEST(OpenAiTools, BadFieldsAreNamed) {
  // request fields as JSON text; "TOOLS" stands for the two tools above
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"tools": 5})", "tools"},
      {R"({"tools": [{"type": "function"}]})", "tools[0].function"},
      {R"({"tools": [{"type": "web", "function": {"name": "a"}}]})", "tools[0].type"},
      {R"({"tools": [{"type": "function", "function": {"name": "a", "strict": "yes"}}]})", "tools[0].function.strict"},
      {R"({"tools": TOOLS, "tool_choice": 3})", "tool_choice"},
      {R"({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}})", "tool_choice"},
      {R"({"response_format": {"type": "json_schema"}})", "response_format.json_schema"},
      {R"({"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "string", "format": "ipv6"}}}})",
       "response_format.json_schema.schema"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": 1}]}]})", "messages[0].tool_calls[0].function.name"},
  };
  for (const auto& [text, param] : bad) {
    std::string t = text;
    if (auto at = t.find("TOOLS"); at != std::string::npos) t.replace(at, 5, kTools.dump());
    const json extra = json::parse(t);
    auto r = parse_request_json(Endpoint::kChat, chat(extra), served().info);
    auto* e = std::get_if<ApiError>(&r);
    ASSERT_NE(e, nullptr) << extra.dump();
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->param, param) << extra.dump() << " -> " << e->message;
  }
}

}  // namespace
}  // namespace dsv3::server
