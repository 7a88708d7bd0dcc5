// The Jinja engine against Jinja2's semantics (outputs checked with Python's
// jinja2 3.1 where not obvious), the DeepSeek-V3 chat template against the
// Hugging Face goldens, other chat template styles, and hostile templates.
#include "jinja/jinja.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>

namespace dsv3::test {
namespace {

using jinja::Options;
using jinja::Template;
using Json = nlohmann::ordered_json;

Json J(const char* s) { return Json::parse(s); }

// The rendered text, or "ERROR: message" so that a failure shows the error.
std::string render(std::string_view source, const Json& context = Json::object(),
                   const Options& options = {}) {
  auto t = Template::parse(source, options);
  if (!t.ok()) return "ERROR: " + t.error().message;
  auto r = t->render(context);
  if (!r.ok()) return "ERROR: " + r.error().message;
  return r.value();
}

// The error message of a parse or render that must fail ("" if it succeeded).
std::string error_of(std::string_view source, const Json& context = Json::object(),
                     const Options& options = {}) {
  auto t = Template::parse(source, options);
  if (!t.ok()) return t.error().message;
  auto r = t->render(context);
  if (r.ok()) {
    ADD_FAILURE() << "expected an error, rendered: " << r.value();
    return "";
  }
  return r.error().message;
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

Options jinja_defaults() {
  Options o;
  o.trim_blocks = false;
  o.lstrip_blocks = false;
  return o;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

// ---- DeepSeek-V3 ----------------------------------------------------------------

const char* kBos = "<｜begin▁of▁sentence｜>";
const char* kEos = "<｜end▁of▁sentence｜>";

std::string deepseek_template() {
  return read_json(DSV3_TEST_DATA "/reference/models/tiny/tokenizer_config.json")["chat_template"];
}

TEST(JinjaDeepSeek, RendersEveryGoldenChatExactly) {
  const auto goldens = read_json(DSV3_TEST_DATA "/reference/goldens/tokenizer/shared.json")["chat"];
  ASSERT_FALSE(goldens.empty());
  auto tmpl = Template::parse(deepseek_template());
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
  for (const auto& g : goldens) {
    nlohmann::json ctx = {{"messages", g["messages"]},
                          {"add_generation_prompt", g["add_generation_prompt"]},
                          {"bos_token", kBos},
                          {"eos_token", kEos}};
    auto out = tmpl->render(ctx);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(out.value(), g["text"].get<std::string>()) << g["messages"].dump();
  }
}

TEST(JinjaDeepSeek, ToolCallsAndToolOutputs) {
  auto tmpl = Template::parse(deepseek_template());
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
  Json ctx = J(R"({"messages": [
      {"role": "user", "content": "Weather and time?"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
        {"type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
      {"role": "tool", "content": "22C"},
      {"role": "tool", "content": "noon"}],
    "add_generation_prompt": true})");
  ctx["bos_token"] = kBos;
  ctx["eos_token"] = kEos;
  auto out = tmpl->render(ctx);
  ASSERT_TRUE(out.ok()) << out.error().message;
  const std::string& s = out.value();
  // Calls, then their outputs; no generation prompt right after tool outputs.
  const std::string expected =
      std::string(kBos) +
      "<｜User｜>Weather and time?<｜Assistant｜><｜tool▁calls▁begin｜>"
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": "
      "\"Paris\"}\n```<｜tool▁call▁end｜>\n"
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜>"
      "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
      "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>22C<｜tool▁output▁end｜>\n"
      "<｜tool▁output▁begin｜>noon<｜tool▁output▁end｜><｜tool▁outputs▁end｜>";
  EXPECT_EQ(s, expected);
  EXPECT_LT(s.find("get_weather"), s.find("get_time"));
  EXPECT_LT(s.find("<｜tool▁calls▁end｜>"), s.find("<｜tool▁outputs▁begin｜>"));
  EXPECT_EQ(s.rfind("<｜Assistant｜>"), s.find("<｜Assistant｜>"));

  // A single call, its output, then the model's answer closes the outputs.
  Json one = J(R"({"messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "content": "{\"temp\": 22}"},
      {"role": "assistant", "content": "It is 22 degrees."}],
    "add_generation_prompt": false})");
  one["bos_token"] = kBos;
  one["eos_token"] = kEos;
  auto out1 = tmpl->render(one);
  ASSERT_TRUE(out1.ok()) << out1.error().message;
  EXPECT_EQ(out1.value(),
            std::string(kBos) +
                "<｜User｜>Weather in Paris?<｜Assistant｜><｜tool▁calls▁begin｜>"
                "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```"
                "<｜tool▁call▁end｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"temp\": 22}"
                "<｜tool▁output▁end｜><｜tool▁outputs▁end｜>It is 22 degrees.<｜end▁of▁sentence｜>");
}

TEST(JinjaDeepSeek, MissingAddGenerationPromptDefaultsToFalse) {
  Json ctx = J(R"({"messages": [{"role": "user", "content": "Hi"}]})");
  ctx["bos_token"] = kBos;
  EXPECT_EQ(render(deepseek_template(), ctx), std::string(kBos) + "<｜User｜>Hi");
}

// ---- other chat template styles ---------------------------------------------------

// ChatML in the style of Qwen2.5: loop.first, message.role, tools with tojson.
const char* kChatMl = R"({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools><|im_end|>\n" }}
{%- elif messages[0].role == 'system' %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == "user" or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>assistant' }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' + tool_call.name + '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or messages[loop.index0 - 1].role != "tool" %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != "tool" %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)";

TEST(JinjaTemplates, ChatMlPlainConversation) {
  const Json ctx = J(R"({"messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Hi"},
                                      {"role": "assistant", "content": "Hello!"},
                                      {"role": "user", "content": "Bye"}],
                         "add_generation_prompt": true})");
  EXPECT_EQ(render(kChatMl, ctx),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(JinjaTemplates, ChatMlToolsKeepKeyOrder) {
  const Json ctx =
      J(R"({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                           "properties": {"x": {"type": "string"}}}}}],
                         "messages": [{"role": "user", "content": "Go"},
                                      {"role": "assistant", "content": "", "tool_calls": [
                                        {"function": {"name": "f", "arguments": {"x": "é"}}}]},
                                      {"role": "tool", "content": "ok"},
                                      {"role": "tool", "content": "done"}],
                         "add_generation_prompt": false})");
  EXPECT_EQ(render(kChatMl, ctx),
            "<|im_start|>system\n# Tools\n<tools>\n"
            "{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\", "
            "\"properties\": {\"x\": {\"type\": \"string\"}}}}}\n</tools><|im_end|>\n"
            "<|im_start|>user\nGo<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": "
            "\"é\"}}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nok\n</tool_response>\n<tool_response>\ndone\n</"
            "tool_response><|im_end|>\n");
}

// In the style of Llama 3: a system message lifted out with set and trim,
// raise_exception on a wrong role order.
const char* kLlama = R"({{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] | trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{%- if system_message %}
    {{- '<|start_header_id|>system<|end_header_id|>\n\n' + system_message + '<|eot_id|>' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
)";

TEST(JinjaTemplates, LlamaStyleTrimsAndLiftsTheSystemMessage) {
  const Json ctx = J(R"({"bos_token": "<|begin_of_text|>", "add_generation_prompt": true,
                         "messages": [{"role": "system", "content": "  Be nice.\n"},
                                      {"role": "user", "content": " Hi "},
                                      {"role": "assistant", "content": "Hello"},
                                      {"role": "user", "content": "Again"}]})");
  EXPECT_EQ(render(kLlama, ctx),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe nice.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nAgain<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(JinjaTemplates, LlamaStyleRejectsWrongRoleOrder) {
  const Json ctx = J(R"({"bos_token": "", "messages": [{"role": "user", "content": "a"},
                                                        {"role": "user", "content": "b"}]})");
  const std::string err = error_of(kLlama, ctx);
  EXPECT_TRUE(contains(err, "Conversation roles must alternate user/assistant/user/assistant/...")) << err;
  EXPECT_TRUE(contains(err, "raise_exception")) << err;
  EXPECT_TRUE(contains(err, "13:13")) << err;  // where the raise_exception call is
}

// ---- whitespace control -------------------------------------------------------------

TEST(JinjaWhitespace, HuggingFaceDefaultsTrimAndLstripBlocks) {
  const char* src = "<ul>\n  {% for x in xs %}\n  <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n";
  const Json ctx = J(R"({"xs": [1, 2]})");
  EXPECT_EQ(render(src, ctx), "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>");
  EXPECT_EQ(render(src, ctx, jinja_defaults()), "<ul>\n  \n  <li>1</li>\n  \n  <li>2</li>\n  \n</ul>");
}

TEST(JinjaWhitespace, LstripOnlyAtLineStartAndNotForOutput) {
  EXPECT_EQ(render("a  {% if true %}b{% endif %}"), "a  b");
  EXPECT_EQ(render("  {{ 1 }}\n  {% if true %}x{% endif %}"), "  1\nx");
  EXPECT_EQ(render("  {# note #}\nx"), "x");                 // comments are trimmed like blocks
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");  // + keeps the indentation
  EXPECT_EQ(render("{% if true +%}\nx{% endif %}"), "\nx");  // + keeps the newline
}

TEST(JinjaWhitespace, MinusStripsAllWhitespaceOnThatSide) {
  EXPECT_EQ(render("a  \n  {%- if true -%}  \n  b  \n  {%- endif %}", Json::object(), jinja_defaults()),
            "ab");
  EXPECT_EQ(render("x  {{- 1 -}}  y"), "x1y");
  EXPECT_EQ(render("x \n{#- c -#}\n y"), "xy");
}

TEST(JinjaWhitespace, TrailingNewlineAndLineEndings) {
  EXPECT_EQ(render("a\n"), "a");  // keep_trailing_newline=False
  EXPECT_EQ(render("a\n\n"), "a\n");
  Options keep;
  keep.keep_trailing_newline = true;
  EXPECT_EQ(render("a\n", Json::object(), keep), "a\n");
  EXPECT_EQ(render("a\r\nb\r\n{% if true %}\r\nc{% endif %}"), "a\nb\nc");
}

TEST(JinjaWhitespace, RawBlocks) {
  EXPECT_EQ(render("{% raw %}{{ x }}{% if %}{% endraw %}"), "{{ x }}{% if %}");
  EXPECT_EQ(render("{%- raw -%}  a  {%- endraw -%}"), "a");
}

// ---- expressions ------------------------------------------------------------------

TEST(JinjaExpressions, LiteralsAndPrinting) {
  EXPECT_EQ(render("{{ 'a' }}{{ \"b\" }}{{ 'it\\'s\\n' }}{{ \"\\u00e9\\t\\x41\" }}"), "abit's\né\tA");
  EXPECT_EQ(
      render("{{ 42 }} {{ -7 }} {{ 1_000 }} {{ 1.0 }} {{ 2.5e3 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.1 + 0.2 }}"),
      "42 -7 1000 1.0 2500.0 1e+16 1e-05 0.30000000000000004");
  EXPECT_EQ(render("{{ true }} {{ False }} {{ none }} {{ None }}"), "True False None None");
  EXPECT_EQ(render("{{ [1, 'a', none, true, 2.0] }} {{ {'k': 'v', 'n': [1]} }} {{ (1, 'x') }} {{ (1,) }}"),
            "[1, 'a', None, True, 2.0] {'k': 'v', 'n': [1]} (1, 'x') (1,)");
  EXPECT_EQ(render("{{ [\"it's\", 'say \"hi\"', 'a\\nb'] }}"), "[\"it's\", 'say \"hi\"', 'a\\nb']");
  EXPECT_EQ(render("{{ 'a' 'b' }}"), "ab");  // adjacent literals concatenate
}

TEST(JinjaExpressions, Arithmetic) {
  EXPECT_EQ(
      render(
          "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 10 - 2 - 3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}"),
      "7 9 5 1024 64 4");
  EXPECT_EQ(render("{{ 7 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 "
                   "}} {{ 1 // 0.1 }}"),
            "3.5 2.0 3 -4 2 -2 3.0 9.0");
  EXPECT_EQ(
      render("{{ 'ab' + 'cd' }} {{ 'ab' * 2 }} {{ [1] + [2] }} {{ [0] * 3 }} {{ 'x' ~ 1 ~ none ~ true }}"),
      "abcd abab [1, 2] [0, 0, 0] x1NoneTrue");
  EXPECT_EQ(render("{{ true + 1 }} {{ 9223372036854775807 + 1 }}"), "2 9.223372036854776e+18");
}

TEST(JinjaExpressions, ComparisonsAndLogic) {
  EXPECT_EQ(render("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ [1, [2]] == [1, [2]] }} {{ 1 < 2 < 3 "
                   "}} {{ 3 > 2 > 2 }}"),
            "True True True True True False");
  EXPECT_EQ(render("{{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2.0 }}"), "True True True");
  EXPECT_EQ(render("{{ 1 and 'x' }} {{ 0 and 'x' }} {{ '' or 'y' }} {{ not 0 }} {{ not [] }} {{ not 'a' }}"),
            "x 0 y True True False");
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ not "
                   "1 in [1] }}"),
            "True True True True False");
  EXPECT_EQ(render("{{ 'yes' if 1 else 'no' }}|{{ 'yes' if 0 else 'no' }}|{{ 'x' if false }}|{{ 1 if 0 else "
                   "2 if 0 else 3 }}"),
            "yes|no||3");
}

TEST(JinjaExpressions, AttributesSubscriptsAndSlices) {
  const Json ctx = J(R"({"m": {"role": "user", "content": "héllo"}, "xs": [10, 20, 30, 40]})");
  EXPECT_EQ(
      render("{{ m.role }} {{ m['role'] }} {{ xs[0] }} {{ xs[-1] }} {{ xs.1 }} {{ m.content[1] }}", ctx),
      "user user 10 40 20 é");
  EXPECT_EQ(render("{{ xs[1:] }} {{ xs[:2] }} {{ xs[::-1] }} {{ xs[-2:] }} {{ xs[::2] }} {{ m.content[1:3] "
                   "}} {{ 'abc'[::-1] }}",
                   ctx),
            "[20, 30, 40] [10, 20] [40, 30, 20, 10] [30, 40] [10, 30] él cba");
  EXPECT_EQ(render("[{{ m.missing }}][{{ m['missing'] }}][{{ xs[9] }}][{{ m.missing.deeper }}]", ctx),
            "[][][][]");
}

TEST(JinjaExpressions, StringMethods) {
  EXPECT_EQ(render("[{{ '  a b  '.strip() }}][{{ 'xxaxx'.strip('x') }}][{{ '  a'.lstrip() }}][{{ "
                   "'a\\n\\n'.rstrip('\\n') }}]"),
            "[a b][a][a][a]");
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a.b.c'.split('.', 1) }} {{ "
                   "'a.b.c'.rsplit('.', 1) }}"),
            "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b.c'] ['a.b', 'c']");
  EXPECT_EQ(
      render("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith(('x', 'a')) }}"),
      "True True True");
  EXPECT_EQ(render("{{ 'Hello'.upper() }} {{ 'Hello'.lower() }} {{ 'hello world'.title() }} {{ "
                   "'hELLO'.capitalize() }}"),
            "HELLO hello Hello World Hello");
  EXPECT_EQ(
      render("{{ 'a-b-c'.replace('-', '+') }} {{ 'aaa'.replace('a', 'b', 2) }} {{ ', '.join(['x', 'y']) }}"),
      "a+b+c bba x, y");
  EXPECT_EQ(render("{{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ '{} and {}'.format(1, 'two') }}"),
            "2 2 1 and two");
  EXPECT_EQ(render("{{ 'étÉ'.upper() }} {{ 'ÉTÉ'.lower() }}"), "ÉTÉ été");
}

TEST(JinjaExpressions, DictMethods) {
  const Json ctx = J(R"({"d": {"b": 1, "a": 2}})");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", ctx), "b=1;a=2;");
  EXPECT_EQ(render("{{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('z') }} {{ "
                   "d.get('z', 0) }}",
                   ctx),
            "['b', 'a'] [1, 2] 2 None 0");
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}", ctx), "ba");
}

// ---- statements ------------------------------------------------------------------

TEST(JinjaStatements, IfElifElse) {
  const char* src = "{% if x > 1 %}big{% elif x == 1 %}one{% else %}small{% endif %}";
  EXPECT_EQ(render(src, J(R"({"x": 5})")), "big");
  EXPECT_EQ(render(src, J(R"({"x": 1})")), "one");
  EXPECT_EQ(render(src, J(R"({"x": 0})")), "small");
}

TEST(JinjaStatements, ForLoopVariables) {
  EXPECT_EQ(
      render("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
             "{{ loop.first }}{{ loop.last }}{{ loop.length }} {% endfor %}"),
      "1032TrueFalse3 2121FalseFalse3 3210FalseTrue3 ");
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}|{% endfor %}"),
            "<1>2|1<2>3|2<3>|");
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.cycle('odd', 'even') }} {% endfor %}"), "odd even odd ");
  EXPECT_EQ(render("{% for a in [1, 2] %}{% for b in [3] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ "
                   "loop.index }}{% endfor %}"),
            "113 1123 2");
}

TEST(JinjaStatements, ForUnpackingFilterElseBreakContinue) {
  EXPECT_EQ(render("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}"), "3 7 ");
  EXPECT_EQ(render("{% for (k, v) in {'x': 1}.items() %}{{ k }}{{ v }}{% endfor %}"), "x1");
  EXPECT_EQ(render("{% for i in range(10) if i is odd %}{{ i }}/{{ loop.length }} {% endfor %}"),
            "1/5 3/5 5/5 7/5 9/5 ");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in missing %}x{% else %}none{% endfor %}"), "none");
  EXPECT_EQ(render("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break "
                   "%}{% endif %}{{ i }}{% endfor %}"),
            "02");
}

TEST(JinjaStatements, SetScopesAndNamespaces) {
  // A set inside a loop is local to that iteration, as in Jinja.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in range(2) %}{% set x = x + 10 %}{{ x }} {% endfor %}{{ x }}"),
            "11 11 1");
  EXPECT_EQ(render("{% set ns = namespace(total=0, names='') %}{% for i in [1, 2, 3] %}{% set ns.total = "
                   "ns.total + i %}"
                   "{% endfor %}{{ ns.total }}"),
            "6");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}"), "12(1, 2)");
  EXPECT_EQ(render("{% set x %}Hello {{ 'you' }}!{% endset %}[{{ x }}]"), "[Hello you!]");
  EXPECT_EQ(render("{% set x | upper | trim %}  abc  {% endset %}[{{ x }}]"), "[ABC]");
  EXPECT_EQ(render("{{ ns }}{% set ns = namespace(a=1) %}{{ ns }}"), "<Namespace {'a': 1}>");
}

TEST(JinjaStatements, MacrosFilterBlocksWithAndGeneration) {
  EXPECT_EQ(render("{% macro tag(name, body='-') %}<{{ name }}>{{ body }}</{{ name }}>{% endmacro %}"
                   "{{ tag('a') }}{{ tag('b', 'x') }}{{ tag(body='y', name='c') }}"),
            "<a>-</a><b>x</b><c>y</c>");
  EXPECT_EQ(render("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% "
                   "endmacro %}{{ fact(5) }}"),
            "120");
  EXPECT_EQ(render("{% filter upper %}hi {{ 'there' }}{% endfilter %}"), "HI THERE");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"), "3[]");
  EXPECT_EQ(render("A{% generation %}B{{ 1 }}{% endgeneration %}C"), "AB1C");
}

// ---- filters, tests, globals --------------------------------------------------------

TEST(JinjaFilters, Strings) {
  EXPECT_EQ(
      render("[{{ '  a  ' | trim }}][{{ 'xxax' | trim('x') }}][{{ 'Hi' | lower }}][{{ 'Hi' | upper }}]"),
      "[a][a][hi][HI]");
  EXPECT_EQ(
      render("{{ 'hello world-x' | title }} {{ 'hELLO' | capitalize }} {{ 'a-b' | replace('-', '+') }}"),
      "Hello World-X Hello a+b");
  EXPECT_EQ(render("{{ 'a\\nb' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, "
                   "blank=true) }}"),
            "a\n  b|  a\n  b|a\n  \n  b");
  EXPECT_EQ(
      render("{{ 'one two  three' | wordcount }} {{ '<a href=\"x\">&</a>' | escape }} {{ '<b>' | safe }}"),
      "3 &lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt; <b>");
  EXPECT_EQ(render("{{ 5 | string }}{{ none | string }} {{ '%s is %d' | format('x', 3) }}"), "5None x is 3");
}

TEST(JinjaFilters, Numbers) {
  EXPECT_EQ(render("{{ '42' | int }} {{ '3.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ "
                   "'0x1A' | int(0, 16) }}"),
            "42 3 0 7 3 26");
  EXPECT_EQ(render("{{ '2.5' | float }} {{ 3 | float }} {{ 'x' | float }} {{ -3 | abs }} {{ -2.5 | abs }}"),
            "2.5 3.0 0.0 3 2.5");
  EXPECT_EQ(render("{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.567 | round(2) }} {{ 2.1 | round(0, 'ceil') }} "
                   "{{ 2.9 | round(method='floor') }}"),
            "2.0 4.0 2.57 3.0 2.0");
}

TEST(JinjaFilters, Sequences) {
  const Json ctx = J(R"({"xs": [3, 1, 2], "ws": ["b", "A", "a"], "d": {"b": 1, "a": 2}})");
  EXPECT_EQ(
      render(
          "{{ xs | length }} {{ xs | count }} {{ 'héllo' | length }} {{ d | length }} {{ missing | length }}",
          ctx),
      "3 3 5 2 0");
  EXPECT_EQ(render("{{ xs | first }} {{ xs | last }} {{ xs | join('-') }} {{ xs | join }} {{ xs | sum }} {{ "
                   "xs | min }} {{ xs | max }}",
                   ctx),
            "3 2 3-1-2 312 6 1 3");
  EXPECT_EQ(render("{{ xs | sort }} {{ xs | sort(reverse=true) }} {{ ws | sort }} {{ ws | "
                   "sort(case_sensitive=true) }}",
                   ctx),
            "[1, 2, 3] [3, 2, 1] ['A', 'a', 'b'] ['A', 'a', 'b']");
  EXPECT_EQ(
      render("{{ xs | reverse | list }} {{ 'abc' | reverse }} {{ 'ab' | list }} {{ ws | unique | list }}",
             ctx),
      "[2, 1, 3] cba ['a', 'b'] ['b', 'A']");
  EXPECT_EQ(
      render("{{ d | items | list }} {{ d | dictsort }} {{ d | dictsort(by='value', reverse=true) }}", ctx),
      "[('b', 1), ('a', 2)] [('a', 2), ('b', 1)] [('a', 2), ('b', 1)]");
  EXPECT_EQ(render("{{ [1, 2, 3, 4, 5] | batch(2) | list }}"), "[[1, 2], [3, 4], [5]]");
}

TEST(JinjaFilters, MapSelectReject) {
  const Json ctx = J(R"({"ms": [{"role": "system", "n": 1}, {"role": "user", "n": 2}, {"role": "user"}]})");
  EXPECT_EQ(render("{{ ms | map(attribute='role') | join(',') }}", ctx), "system,user,user");
  EXPECT_EQ(render("{{ ms | map(attribute='n', default=0) | list }}", ctx), "[1, 2, 0]");
  EXPECT_EQ(render("{{ ms | selectattr('role', 'equalto', 'user') | list | length }}", ctx), "2");
  EXPECT_EQ(render("{{ ms | selectattr('n', 'defined') | map(attribute='n') | list }}", ctx), "[1, 2]");
  EXPECT_EQ(render("{{ ms | rejectattr('n') | list }}", ctx), "[{'role': 'user'}]");
  EXPECT_EQ(render("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [0, 1, ''] | select | list }} {{ [1, 2] | "
                   "reject('even') | list }}"),
            "[1, 3] [1] [1]");
  EXPECT_EQ(render("{{ ['a', 'b'] | map('upper') | join }}"), "AB");
  // Like Jinja's generators, these results are truthy even when empty.
  EXPECT_EQ(render("{{ 'yes' if [] | select else 'no' }} {{ 'yes' if [] | select | list else 'no' }}"),
            "yes no");
}

TEST(JinjaFilters, DefaultAndTojson) {
  EXPECT_EQ(render("{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ "
                   "none | d('x') }}"),
            "d  d None");
  const Json ctx = J(R"({"v": {"b": [1, 2.5, "é\n\"q\""], "a": null, "t": true}})");
  EXPECT_EQ(render("{{ v | tojson }}", ctx),
            "{\"b\": [1, 2.5, \"é\\n\\\"q\\\"\"], \"a\": null, \"t\": true}");
  EXPECT_EQ(render("{{ v | tojson(indent=2) }}", ctx),
            "{\n  \"b\": [\n    1,\n    2.5,\n    \"é\\n\\\"q\\\"\"\n  ],\n  \"a\": null,\n  \"t\": true\n}");
  EXPECT_EQ(render("{{ v.b | tojson(ensure_ascii=true) }} {{ {'b': 1, 'a': 2} | tojson(sort_keys=true, "
                   "separators=[',', ':']) }}",
                   ctx),
            "[1, 2.5, \"\\u00e9\\n\\\"q\\\"\"] {\"a\":2,\"b\":1}");
  EXPECT_EQ(render("{{ [] | tojson(indent=2) }} {{ {} | tojson }} {{ 'x' | tojson }} {{ 1.0 | tojson }}"),
            "[] {} \"x\" 1.0");
}

TEST(JinjaTests, TypeAndValueTests) {
  const Json ctx = J(R"({"s": "x", "n": 1, "f": 1.5, "l": [1], "d": {}, "z": null})");
  EXPECT_EQ(
      render("{{ s is defined }}{{ q is defined }}{{ q is undefined }}{{ z is none }}{{ s is not none }}",
             ctx),
      "TrueFalseTrueTrueTrue");
  EXPECT_EQ(render("{{ s is string }}{{ n is string }}{{ n is number }}{{ f is number }}{{ n is integer }}{{ "
                   "f is float }}",
                   ctx),
            "TrueFalseTrueTrueTrueTrue");
  EXPECT_EQ(render("{{ d is mapping }}{{ l is mapping }}{{ l is sequence }}{{ s is sequence }}{{ l is "
                   "iterable }}{{ n is iterable }}",
                   ctx),
            "TrueFalseTrueTrueTrueFalse");
  EXPECT_EQ(render("{{ true is true }}{{ 1 is true }}{{ false is false }}{{ true is boolean }}", ctx),
            "TrueFalseTrueTrue");
  EXPECT_EQ(
      render("{{ 4 is even }}{{ 4 is odd }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}",
             ctx),
      "TrueFalseTrueTrueFalse");
  EXPECT_EQ(
      render(
          "{{ 1 is in [1, 2] }}{{ 'a' is eq 'a' }}{{ 2 is gt 1 }}{{ 'abc' is lower }}{{ 'ABC' is upper }}"),
      "TrueTrueTrueTrueTrue");
}

TEST(JinjaGlobals, RangeNamespaceRaiseAndTime) {
  EXPECT_EQ(render("{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -4) | list }} {{ range(0) "
                   "| list }}"),
            "[0, 1, 2] [1, 2, 3] [10, 6, 2] []");
  EXPECT_EQ(
      render("{% set ns = namespace(a=1, b='x') %}{% set ns.a = ns.a + 1 %}{{ ns.a }}{{ ns.b }}{{ ns.c }}"),
      "2x");
  EXPECT_EQ(render("{{ dict(a=1) }}"), "{'a': 1}");
  const std::string err = error_of("{% if true %}\n  {{ raise_exception('bad input: ' ~ 42) }}\n{% endif %}");
  EXPECT_TRUE(contains(err, "bad input: 42")) << err;
  EXPECT_TRUE(contains(err, "2:")) << err;
  const std::string year = render("{{ strftime_now('%Y') }}");
  EXPECT_EQ(year.size(), 4u) << year;
}

TEST(JinjaUndefined, BehavesLikeJinjaDefaultUndefined) {
  const Json ctx = J(R"({"m": {"a": 1}})");
  EXPECT_EQ(render("[{{ x }}][{{ x.y.z }}][{{ m.b }}][{{ m['b'] }}][{{ x | length }}][{{ x | join }}]", ctx),
            "[][][][][0][]");
  EXPECT_EQ(
      render("{% if x %}t{% else %}f{% endif %}{% if not x %}!{% endif %}{% for i in x %}i{% endfor %}", ctx),
      "f!");
  EXPECT_EQ(
      render("{{ x is defined }}{{ m.b is defined }}{{ m.a is defined }}{{ x == y }}{{ x == none }}", ctx),
      "FalseFalseTrueTrueFalse");
  EXPECT_EQ(render("{{ 'a' ~ x ~ 'b' }}", ctx), "ab");
  // Arithmetic and calls on undefined fail as in Jinja, naming the variable.
  EXPECT_TRUE(contains(error_of("{{ x + 1 }}"), "'x' is undefined"));
  EXPECT_TRUE(contains(error_of("{{ x() }}"), "'x' is undefined"));
  EXPECT_TRUE(contains(error_of("{{ x.strip() }}"), "'x' is undefined"));
}

TEST(JinjaTruthiness, FollowsPython) {
  EXPECT_EQ(render("{% for v in ['', 'a', 0, 1, 0.0, [], [0], {}, none, false, true] %}{{ 1 if v else 0 }}{% "
                   "endfor %}"),
            "01010010001");
  EXPECT_EQ(render("{{ 1 if {'a': 1} else 0 }}"), "1");
}

// ---- errors and limits --------------------------------------------------------------

TEST(JinjaErrors, ParseErrorsNameLineAndColumn) {
  std::string err = error_of("Hello\n{{ name ");
  EXPECT_TRUE(contains(err, "2:1")) << err;
  EXPECT_TRUE(contains(err, "unterminated")) << err;
  err = error_of("a\n  {% if x %}\nb");
  EXPECT_TRUE(contains(err, "'if' opened at 2:6")) << err;
  EXPECT_TRUE(contains(err, "endif")) << err;
  err = error_of("{{ x | nosuch }}");
  EXPECT_TRUE(contains(err, "unknown filter 'nosuch'")) << err;
  EXPECT_TRUE(contains(err, "1:8")) << err;
  EXPECT_TRUE(contains(error_of("{{ x is nosuch }}"), "unknown test 'nosuch'"));
  EXPECT_TRUE(contains(error_of("{% frobnicate %}"), "unknown tag 'frobnicate'"));
  EXPECT_TRUE(contains(error_of("{% endfor %}"), "unexpected 'endfor'"));
  EXPECT_TRUE(contains(error_of("{# never closed"), "unterminated comment"));
  EXPECT_TRUE(contains(error_of("{{ 'abc }}"), "unterminated string"));
  EXPECT_TRUE(contains(error_of("{{ 1 + }}"), "1:8"));
  EXPECT_TRUE(contains(error_of("{{ (1 }}"), "unexpected '}'"));
  EXPECT_TRUE(contains(error_of("{% break %}"), "outside of a for loop"));
  EXPECT_TRUE(contains(error_of("{% include 'x.j2' %}"), "not supported"));
}

TEST(JinjaErrors, RuntimeErrorsNameTheirPosition) {
  std::string err = error_of("line one\n{{ 1 // 0 }}");
  EXPECT_TRUE(contains(err, "2:6")) << err;
  EXPECT_TRUE(contains(err, "division by zero")) << err;
  EXPECT_TRUE(contains(error_of("{{ 'a' + 1 }}"), "concatenate"));
  EXPECT_TRUE(contains(error_of("{{ 1 < 'a' }}"), "not supported"));
  EXPECT_TRUE(contains(error_of("{% set x = 1 %}{% set x.y = 2 %}"), "namespace"));
  EXPECT_TRUE(contains(error_of("{% for a, b in [1] %}{% endfor %}"), "unpack"));
  EXPECT_TRUE(contains(error_of("{{ [1] | items }}"), "mapping"));
  EXPECT_TRUE(contains(error_of("{{ x }}", J("[1, 2]")), "object"));
}

TEST(JinjaErrors, DeepNestingIsRejectedNotACrash) {
  const int n = 100000;
  EXPECT_TRUE(
      contains(error_of("{{ " + std::string(n, '(') + "1" + std::string(n, ')') + " }}"), "nested deeper"));
  EXPECT_TRUE(
      contains(error_of("{{ " + std::string(n, '[') + "1" + std::string(n, ']') + " }}"), "nested deeper"));
  EXPECT_TRUE(contains(error_of("{{ " + std::string(n, '-') + "1 }}"), "nested deeper"));
  std::string nots, ifs, chain = "1";
  for (int i = 0; i < 5000; ++i) nots += "not ";
  for (int i = 0; i < 5000; ++i) ifs += "{% if 1 %}";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_TRUE(contains(error_of("{{ " + nots + "1 }}"), "nested deeper"));
  EXPECT_TRUE(contains(error_of(ifs), "nested deeper"));
  EXPECT_TRUE(contains(error_of("{{ " + chain + " }}"), "nested deeper"));
  // Nesting just inside the limit still works.
  EXPECT_EQ(render("{{ " + std::string(200, '(') + "7" + std::string(200, ')') + " }}"), "7");
  // Runaway recursion and values nested ever deeper.
  EXPECT_TRUE(contains(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), "recursion"));
  EXPECT_TRUE(contains(
      error_of("{% set ns = namespace(x=1) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}"),
      "nested deeper"));
  EXPECT_TRUE(contains(error_of("{% set ns = namespace() %}{% set ns.me = ns %}"), "namespace"));
  // Nor can a namespace reach itself through a loop object (no reference cycles).
  EXPECT_TRUE(
      contains(error_of("{% set ns = namespace() %}{% for x in [ns] %}{% set ns.l = [loop] %}{% endfor %}"),
               "namespace"));
}

TEST(JinjaErrors, RunawayLoopsAndOutputAreBounded) {
  Options small;
  small.limits.max_loop_iterations = 10000;
  EXPECT_TRUE(
      contains(error_of("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
                        Json::object(), small),
               "iterations"));
  // The default limits stop these quickly too.
  EXPECT_TRUE(contains(error_of("{% for i in range(10 ** 12) %}{% endfor %}"), "limit"));
  EXPECT_TRUE(contains(error_of("{{ 'x' * 10 ** 9 }}"), "limit"));
  EXPECT_TRUE(contains(error_of("{{ [1] * 10 ** 9 }}"), "limit"));
  EXPECT_TRUE(contains(
      error_of(
          "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
      "limit"));
  Options tiny;
  tiny.limits.max_output_bytes = 100;
  EXPECT_TRUE(
      contains(error_of("{% for i in range(1000) %}xx{% endfor %}", Json::object(), tiny), "output exceeds"));
  Options few_steps;
  few_steps.limits.max_work = 1000;
  EXPECT_TRUE(contains(
      error_of("{% for i in range(900) %}{{ i + 1 }}{% endfor %}", Json::object(), few_steps), "work limit"));
}

TEST(JinjaErrors, HostileTemplatesNeverCrash) {
  // A sample of malformed fragments; each must parse or fail cleanly.
  const char* fragments[] = {"{{",
                             "}}",
                             "{%",
                             "%}",
                             "{#",
                             "#}",
                             "{%-",
                             "-%}",
                             "{{ ((",
                             "{% for %}",
                             "{% if %}",
                             "{% set %}",
                             "{{ a.[0] }}",
                             "{{ a[::] }}",
                             "{{ 'x'|join( }}",
                             "{% macro m( %}",
                             "{{ \"\\u12 }}",
                             "{{ 1e }}",
                             "{% raw %}",
                             "{% endraw %}",
                             "{{ {1: } }}",
                             "{{ a is }}",
                             "{% for a, in b %}{% endfor %}",
                             "{{ x if }}",
                             "\xff\xfe{{ '\xc3' }}",
                             "{{ ** }}"};
  // every error names a place in the source ("jinja LINE:COL: message"); the
  // sources here are one line long. Returns the column, or -1.
  const auto column_of = [](const std::string& e) {
    const std::string head = "jinja 1:";
    if (e.compare(0, head.size(), head) != 0) return -1;
    std::size_t at = head.size(), end = at;
    while (end < e.size() && std::isdigit(static_cast<unsigned char>(e[end]))) ++end;
    if (end == at || e.compare(end, 2, ": ") != 0 || e.size() <= end + 2) return -1;
    return std::stoi(e.substr(at, end - at));
  };
  const Json context = J(R"({"a": [1], "b": "s", "x": 0})");
  int parsed = 0, rendered = 0;
  for (const char* a : fragments) {
    for (const char* b : fragments) {
      const std::string src = std::string(a) + " x " + b;
      SCOPED_TRACE(src);
      auto t = Template::parse(src);
      if (!t.ok()) {
        const std::string& e = t.error().message;
        const int col = column_of(e);
        EXPECT_GE(col, 1) << e;
        EXPECT_LE(col, static_cast<int>(src.size()) + 1) << e;
        EXPECT_EQ(Template::parse(src).error().message, e) << "parsing is deterministic";
        continue;
      }
      ++parsed;
      auto r = t->render(context);
      auto again = t->render(context);
      ASSERT_EQ(r.ok(), again.ok());
      if (!r.ok()) {
        EXPECT_GE(column_of(r.error().message), 1) << r.error().message;
        EXPECT_EQ(again.error().message, r.error().message);
        continue;
      }
      ++rendered;
      EXPECT_EQ(*again, *r) << "rendering is deterministic";
      // a fragment that opens no tag is text: the pair renders as itself
      const auto is_text = [](const char* f) { return std::string_view(f).find_first_of("{") == std::string_view::npos; };
      if (is_text(a) && is_text(b)) {
        EXPECT_EQ(*r, src);
      }
    }
  }
  // the sample holds both kinds, and these pairs have known results
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rendered, 0);
  EXPECT_LT(parsed, static_cast<int>(std::size(fragments) * std::size(fragments)));
  EXPECT_EQ(render("{{ x }}", context), "0");                      // "{{" + " x " + "}}"
  EXPECT_EQ(render("{# x #}", context), "");                       // a comment
  EXPECT_EQ(render("{% raw %} x {% endraw %}", context), " x ");  // raw text
  EXPECT_EQ(render("}} x %}", context), "}} x %}");               // closers alone are text
  EXPECT_TRUE(contains(error_of("{{ x {{", context), "jinja 1:"));
}

TEST(JinjaTemplate, ParsedOnceRenderedManyTimes) {
  auto t = Template::parse("{% for m in messages %}{{ m }}{% endfor %}");
  ASSERT_TRUE(t.ok()) << t.error().message;
  const Template copy = t.value();
  for (int i = 0; i < 3; ++i) {
    auto r = copy.render(nlohmann::json{{"messages", {i, i + 1}}});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value(), std::to_string(i) + std::to_string(i + 1));
  }
  // nlohmann::json (sorted keys) and ordered_json (insertion order) both work.
  auto d = Template::parse("{{ d | tojson }}");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->render(nlohmann::json{{"d", {{"b", 1}, {"a", 2}}}}).value(), "{\"a\": 2, \"b\": 1}");
  EXPECT_EQ(d->render(J(R"({"d": {"b": 1, "a": 2}})")).value(), "{\"b\": 1, \"a\": 2}");
}

// Found by the differential test against jinja2 (jinja_differential_test.cpp).
TEST(JinjaDifferentialFinds, FilterBlockBodiesHaveTheirOwnScope) {
  EXPECT_EQ(render("{% set v = 0 %}{% filter upper %}{% set v = 'x' %}{{ v }}{% endfilter %}[{{ v }}]"), "X[0]");
  EXPECT_EQ(render("{% filter upper %}{% set w = 1 %}{% endfilter %}[{{ w }}]"), "[]");
}

TEST(JinjaDifferentialFinds, PaddingStringMethods) {
  EXPECT_EQ(render("{{ 'ab'.center(7, '*') }}|{{ '-42'.zfill(6) }}|{{ '+x'.zfill(4) }}|{{ 'ab'.ljust(4, '.') }}|"
                   "{{ 'ab'.rjust(3) }}|{{ '\u00e9'.center(4, '\u00fc') }}|{{ 'long'.ljust(2) }}"),
            "***ab**|-00042|+00x|ab..| ab|\u00fc\u00e9\u00fc\u00fc|long");
  EXPECT_TRUE(contains(error_of("{{ 'a'.ljust(3, 'xy') }}"), "exactly one character"));
  EXPECT_TRUE(contains(error_of("{{ 'a'.rjust(10**12) }}"), "exceeds the limit"));
}

TEST(JinjaDifferentialFinds, SortingEqualIncomparableItemsIsFine) {
  // jinja2's sort keys are one-item lists, so equal items never meet `<`
  EXPECT_EQ(render("{{ [none, none]|sort }}"), "[None, None]");
  EXPECT_TRUE(contains(error_of("{{ [none, 1]|sort }}"), "compare"));
}

}  // namespace
}  // namespace dsv3::test
