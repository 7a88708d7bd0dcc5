// The reasoning and tool-call parser: both DeepSeek formats whole and
// streamed at every split, reasoning, malformed output, template detection.
#include "text/assistant_output.h"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

namespace dsv3::test {
namespace {

using text::AssistantOutput;
using text::AssistantOutputParser;
using text::OutputDelta;
using text::OutputFormat;
using text::ToolCallFormat;

const OutputFormat kV3{ToolCallFormat::kDeepSeekV3, false, false};
const OutputFormat kV31{ToolCallFormat::kDeepSeekV31, false, false};

std::string v3_call(const std::string& name, const std::string& args) {
  return "<｜tool▁call▁begin｜>function<｜tool▁sep｜>" + name + "\n```json\n" + args + "\n```<｜tool▁call▁end｜>";
}
std::string v31_call(const std::string& name, const std::string& args) {
  return "<｜tool▁call▁begin｜>" + name + "<｜tool▁sep｜>" + args + "<｜tool▁call▁end｜>";
}
std::string calls(const std::string& inner) { return "<｜tool▁calls▁begin｜>" + inner + "<｜tool▁calls▁end｜>"; }

// What a stream gave, put together.
struct Streamed {
  AssistantOutput out;
  std::vector<std::string> names;  // in index order, as first deltas came
  int complete = 0;
};
void collect(Streamed& s, const OutputDelta& d) {
  s.out.reasoning += d.reasoning;
  s.out.content += d.content;
  for (const auto& c : d.tool_calls) {
    ASSERT_GE(c.index, 0);
    ASSERT_LE(static_cast<std::size_t>(c.index), s.out.tool_calls.size()) << "calls must begin in order";
    if (static_cast<std::size_t>(c.index) == s.out.tool_calls.size()) {
      ASSERT_FALSE(c.name.empty()) << "a call's first delta has its name";
      s.out.tool_calls.push_back({c.name, ""});
      s.names.push_back(c.name);
    } else {
      EXPECT_TRUE(c.name.empty()) << "only the first delta has the name";
    }
    s.out.tool_calls[c.index].arguments += c.arguments;
  }
}
Streamed stream(const std::vector<std::string_view>& pieces, OutputFormat f) {
  AssistantOutputParser p(f);
  Streamed s;
  for (auto piece : pieces) collect(s, p.feed(piece));
  collect(s, p.finish());
  s.complete = p.complete_tool_calls();
  return s;
}

void expect_same(const AssistantOutput& a, const AssistantOutput& b, const std::string& where) {
  EXPECT_EQ(a.reasoning, b.reasoning) << where;
  EXPECT_EQ(a.content, b.content) << where;
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size()) << where;
  for (std::size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name) << where;
    EXPECT_EQ(a.tool_calls[i].arguments, b.tool_calls[i].arguments) << where;
  }
}

// Every split into two and three pieces, and byte by byte, streams to parse()'s answer.
void expect_stream_matches_parse(const std::string& text, OutputFormat f) {
  const AssistantOutput whole = parse_assistant_output(text, f);
  const std::string_view t = text;
  expect_same(stream({t}, f).out, whole, "one piece");
  for (std::size_t i = 0; i <= t.size(); ++i) {
    expect_same(stream({t.substr(0, i), t.substr(i)}, f).out, whole, "split at " + std::to_string(i));
    if (::testing::Test::HasFailure()) return;
  }
  for (std::size_t i = 0; i <= t.size(); i += 7)
    for (std::size_t j = i; j <= t.size(); j += 3)
      expect_same(stream({t.substr(0, i), t.substr(i, j - i), t.substr(j)}, f).out, whole,
                  "split at " + std::to_string(i) + "," + std::to_string(j));
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < t.size(); ++i) bytes.push_back(t.substr(i, 1));
  expect_same(stream(bytes, f).out, whole, "byte by byte");
}

TEST(AssistantOutput, PlainTextIsContent) {
  const auto r = parse_assistant_output("Hello, world. <think>not a tag</think>", kV3);
  EXPECT_EQ(r.content, "Hello, world. <think>not a tag</think>");
  EXPECT_TRUE(r.reasoning.empty());
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(AssistantOutput, V3OneCall) {
  const std::string text = calls(v3_call("get_weather", "{\"city\": \"Paris\"}"));
  const auto r = parse_assistant_output(text, kV3);
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.tool_calls[0].arguments, "{\"city\": \"Paris\"}");
  expect_stream_matches_parse(text, kV3);
}

TEST(AssistantOutput, V3SeveralCallsWithContentAround) {
  const std::string args2 = "{\n  \"query\": \"a ```fenced``` thing\",\n  \"n\": 3\n}";
  const std::string text = "Let me look.\n\n" +
                           calls(v3_call("search", "{\"q\": \"é ü 日本\"}") + "\n" + v3_call("lookup", args2)) +
                           " Done.";
  const auto r = parse_assistant_output(text, kV3);
  EXPECT_EQ(r.content, "Let me look.\n\n Done.");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "search");
  EXPECT_EQ(r.tool_calls[0].arguments, "{\"q\": \"é ü 日本\"}");
  EXPECT_EQ(r.tool_calls[1].name, "lookup");
  EXPECT_EQ(r.tool_calls[1].arguments, args2);
  expect_stream_matches_parse(text, kV3);
  EXPECT_EQ(stream({text}, kV3).complete, 2);
}

TEST(AssistantOutput, V3Variations) {
  // another type word, no "json" after the fence, spaces, no newline before the fence
  const std::string text =
      "<｜tool▁calls▁begin｜> <｜tool▁call▁begin｜>tool <｜tool▁sep｜> f```\n  [1, 2]  \n```  "
      "<｜tool▁call▁end｜>\n\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>g\n{\"a\":1}<｜tool▁call▁end｜>";
  const auto r = parse_assistant_output(text, kV3);
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "f");
  EXPECT_EQ(r.tool_calls[0].arguments, "[1, 2]");
  EXPECT_EQ(r.tool_calls[1].name, "g");
  EXPECT_EQ(r.tool_calls[1].arguments, "{\"a\":1}");
  expect_stream_matches_parse(text, kV3);
}

TEST(AssistantOutput, CallWithoutCallsBegin) {
  const std::string text = "ok " + v31_call("f", "{}");
  const auto r = parse_assistant_output(text, kV31);
  EXPECT_EQ(r.content, "ok ");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "f");
  EXPECT_EQ(r.tool_calls[0].arguments, "{}");
  expect_stream_matches_parse(text, kV31);
}

TEST(AssistantOutput, V31Calls) {
  const std::string text =
      "Sure." + calls(v31_call("get_time", " {\"tz\": \"UTC\"}\n") + v31_call("add", "{\"a\": 1,\n \"b\": 2}")) + "\n";
  const auto r = parse_assistant_output(text, kV31);
  EXPECT_EQ(r.content, "Sure.\n");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "get_time");
  EXPECT_EQ(r.tool_calls[0].arguments, "{\"tz\": \"UTC\"}");
  EXPECT_EQ(r.tool_calls[1].name, "add");
  EXPECT_EQ(r.tool_calls[1].arguments, "{\"a\": 1,\n \"b\": 2}");
  expect_stream_matches_parse(text, kV31);
}

TEST(AssistantOutput, MarkersAreContentWithoutTools) {
  const std::string text = calls(v31_call("f", "{}"));
  const auto r = parse_assistant_output(text, OutputFormat{});
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(AssistantOutput, NameIsSentBeforeTheArguments) {
  AssistantOutputParser p(kV3);
  auto d = p.feed("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather");
  EXPECT_TRUE(d.tool_calls.empty());  // the name may go on
  d = p.feed("\n```json\n{\"city\":");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].index, 0);
  EXPECT_EQ(d.tool_calls[0].name, "get_weather");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"city\":");
  d = p.feed(" \"Paris\"}\n``");  // the closing fence waits
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].name, "");
  EXPECT_EQ(d.tool_calls[0].arguments, " \"Paris\"}");
  EXPECT_EQ(p.complete_tool_calls(), 0);
  d = p.feed("`<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(p.complete_tool_calls(), 1);
  EXPECT_TRUE(p.finish().empty());
}

TEST(AssistantOutput, V31NameIsSentAtTheSeparator) {
  AssistantOutputParser p(kV31);
  auto d = p.feed("<｜tool▁call▁begin｜>f<｜tool▁sep｜>");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].name, "f");
  EXPECT_EQ(d.tool_calls[0].arguments, "");
}

TEST(AssistantOutput, ContentBeforeAPartialMarkerIsSent) {
  AssistantOutputParser p(kV3);
  EXPECT_EQ(p.feed("Hi <｜tool").content, "Hi ");
  EXPECT_EQ(p.feed(" no").content, "<｜tool no");
  // a split character waits for its last byte
  const std::string e = "é";
  EXPECT_EQ(p.feed(e.substr(0, 1)).content, "");
  EXPECT_EQ(p.feed(e.substr(1)).content, e);
}

TEST(AssistantOutput, Reasoning) {
  const OutputFormat f{ToolCallFormat::kDeepSeekV3, true, false};
  const std::string text = "\n<think>\nLet me think.\n</think>\n\nThe answer is 4.";
  const auto r = parse_assistant_output(text, f);
  EXPECT_EQ(r.reasoning, "\nLet me think.\n");
  EXPECT_EQ(r.content, "The answer is 4.");
  expect_stream_matches_parse(text, f);
  // no "<think>" at the start: all content
  const auto plain = parse_assistant_output("Just 4. <think>x</think>", f);
  EXPECT_EQ(plain.reasoning, "");
  EXPECT_EQ(plain.content, "Just 4. <think>x</think>");
  expect_stream_matches_parse("Just 4. <think>x</think>", f);
  expect_stream_matches_parse("  <thin", f);
}

TEST(AssistantOutput, ReasoningStartedByThePrompt) {
  const OutputFormat f{ToolCallFormat::kDeepSeekV31, true, true};
  const std::string text = "hmm, <think> is literal here</think>ok" + calls(v31_call("f", "{\"x\":1}"));
  const auto r = parse_assistant_output(text, f);
  EXPECT_EQ(r.reasoning, "hmm, <think> is literal here");
  EXPECT_EQ(r.content, "ok");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, "{\"x\":1}");
  expect_stream_matches_parse(text, f);
}

TEST(AssistantOutput, UnterminatedReasoningIsReasoning) {
  const OutputFormat f{ToolCallFormat::kNone, true, true};
  const auto r = parse_assistant_output("still thinking </thi", f);
  EXPECT_EQ(r.reasoning, "still thinking </thi");
  EXPECT_EQ(r.content, "");
  expect_stream_matches_parse("still thinking </thi", f);
}

TEST(AssistantOutput, ReasoningOff) {
  const OutputFormat f{ToolCallFormat::kNone, false, true};
  const auto r = parse_assistant_output("<think>a</think>b", f);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "<think>a</think>b");
}

TEST(AssistantOutput, UnterminatedCall) {
  const std::string text = "Hi" + std::string("<｜tool▁calls▁begin｜>") + "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": 1}\n``";
  const auto r = parse_assistant_output(text, kV3);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, "Hi<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": 1}\n``");
  // a stream has sent the name and arguments; the rest comes as content
  const Streamed s = stream({text}, kV3);
  ASSERT_EQ(s.out.tool_calls.size(), 1u);
  EXPECT_EQ(s.out.tool_calls[0].arguments, "{\"a\": 1}");
  EXPECT_EQ(s.out.content, "Hi\n``");
  EXPECT_EQ(s.complete, 0);
  // cut off before the name is whole: content either way
  expect_stream_matches_parse("x<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_wea", kV3);
  EXPECT_EQ(parse_assistant_output("x<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_wea", kV3).content,
            "x<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_wea");
}

TEST(AssistantOutput, MalformedCallsAreContent) {
  // no separator before the end marker
  const std::string no_sep = "<｜tool▁call▁begin｜>f{}<｜tool▁call▁end｜>";
  EXPECT_EQ(parse_assistant_output(no_sep, kV31).content, no_sep);
  expect_stream_matches_parse(no_sep, kV31);
  // empty name
  const std::string empty_name = "<｜tool▁call▁begin｜> <｜tool▁sep｜>{}<｜tool▁call▁end｜>";
  EXPECT_EQ(parse_assistant_output(empty_name, kV31).content, empty_name);
  EXPECT_TRUE(parse_assistant_output(empty_name, kV31).tool_calls.empty());
  expect_stream_matches_parse(empty_name, kV31);
  const std::string empty_v3 = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>\n```json\n{}\n```<｜tool▁call▁end｜>";
  EXPECT_TRUE(parse_assistant_output(empty_v3, kV3).tool_calls.empty());
  expect_stream_matches_parse(empty_v3, kV3);
  // a nested begin marker: the first is content, the second opens a call
  const std::string nested = "<｜tool▁call▁begin｜>junk" + v3_call("f", "{}");
  const auto r = parse_assistant_output(nested, kV3);
  EXPECT_EQ(r.content, "<｜tool▁call▁begin｜>junk");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "f");
  expect_stream_matches_parse(nested, kV3);
  // garbage between calls ends them; a later call still counts
  const std::string garbage = "<｜tool▁calls▁begin｜>" + v31_call("f", "1") + "xx" + v31_call("g", "2") + "<｜tool▁calls▁end｜>";
  const auto g = parse_assistant_output(garbage, kV31);
  EXPECT_EQ(g.content, "xx");  // the second call closes the calls
  ASSERT_EQ(g.tool_calls.size(), 2u);
  expect_stream_matches_parse(garbage, kV31);
  // a head too long to be one
  const std::string long_head = "<｜tool▁call▁begin｜>" + std::string(2000, 'a') + "<｜tool▁sep｜>{}<｜tool▁call▁end｜>";
  EXPECT_EQ(parse_assistant_output(long_head, kV31).content, long_head);
  // stray markers
  for (const std::string s : {"<｜tool▁calls▁end｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁begin｜>",
                              "<｜tool▁calls▁begin｜><｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜><｜tool▁call▁begin｜>"}) {
    expect_stream_matches_parse("a" + s + "b", kV3);
    expect_stream_matches_parse("a" + s + "b", kV31);
  }
}

TEST(AssistantOutput, TemplateFormat) {
  std::ifstream in(std::string(DSV3_TEST_DATA) + "/reference/models/tiny/tokenizer_config.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(text::tool_format_of_template(j["chat_template"].get<std::string>()), ToolCallFormat::kDeepSeekV3);
  EXPECT_EQ(text::tool_format_of_template(
                "{{'<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['function']['name'] + '<｜tool▁sep｜>' + "
                "tool['function']['arguments'] + '<｜tool▁call▁end｜>'}}"),
            ToolCallFormat::kDeepSeekV31);
  EXPECT_EQ(text::tool_format_of_template("{{ messages[0]['content'] }}"), ToolCallFormat::kNone);
}

TEST(AssistantOutput, PromptOpensReasoning) {
  EXPECT_TRUE(text::prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜><think>\n"));
  EXPECT_FALSE(text::prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜></think>"));
  EXPECT_FALSE(text::prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜><think></think>"));
  EXPECT_FALSE(text::prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜>"));
  EXPECT_FALSE(text::prompt_opens_reasoning("<think><｜User｜>hi<｜Assistant｜>"));
  EXPECT_FALSE(text::prompt_opens_reasoning("<｜User｜><think>"));
  EXPECT_TRUE(text::prompt_opens_reasoning("<｜Assistant｜><think>a</think>b<｜User｜>c<｜Assistant｜><think>"));
}

}  // namespace
}  // namespace dsv3::test
