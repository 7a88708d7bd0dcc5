// The text subcommands against the tokenizer and chat-template goldens, and
// run / chat as a user drives them.
#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace dsv3::test {
namespace {

const std::string kTiny = " --model " + model_dir("tiny");
const nlohmann::json& goldens() {
  static const nlohmann::json j = read_json(reference_dir() + "/goldens/tokenizer/shared.json");
  return j;
}
std::string join_ids(const nlohmann::json& ids) {
  std::string s;
  for (const auto& id : ids) s += (s.empty() ? "" : ",") + std::to_string(id.get<int>());
  return s;
}

TEST(TextCli, TokenizeFileMatchesGoldens) {
  TempDir d;
  for (int i : {4, 7, 12, 16}) {  // tabs and CRLF, code, emoji, special tokens
    const auto& c = goldens()["encode"][i];
    write_file(d.file("t.txt"), c["text"].get<std::string>());
    const CliRun r = run("tokenize --json --file " + d.file("t.txt") + kTiny);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], c["ids"]) << c["text"];
  }
  const CliRun r = run("tokenize --json --text 'Hello world'" + kTiny);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], goldens()["encode"][0]["ids"]);
}

TEST(TextCli, DetokenizeIsByteExact) {
  for (int i : {5, 12, 18, 19}) {
    const auto& c = goldens()["encode"][i];
    const CliRun r = run("detokenize --ids " + join_ids(c["ids"]) + kTiny);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, c["decoded"].get<std::string>());
  }
}

TEST(TextCli, ChatTemplateIsByteExact) {
  TempDir d;
  int n = 0;
  for (const auto& c : goldens()["chat"]) {
    write_file(d.file("m.json"), c["messages"].dump());
    const CliRun r = run("chat-template --messages " + d.file("m.json") + kTiny +
                         (c["add_generation_prompt"].get<bool>() ? " --add-generation-prompt" : ""));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, c["text"].get<std::string>());
    ++n;
  }
  EXPECT_EQ(n, 6);
}

TEST(TextCli, RunStreamsAndReportsSpeed) {
  const CliRun a = run("run --prompt 'Hello' --max-tokens 12 --seed 5" + kTiny);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_GT(a.out.size(), 1u);
  EXPECT_NE(a.err.find("tokens/s"), std::string::npos) << a.err;
  const CliRun b = run("run --prompt 'Hello' --max-tokens 12 --seed 5" + kTiny);
  EXPECT_EQ(a.out, b.out);  // same seed, same text
  // greedy --raw equals the reference continuation of prompt 1
  const auto ref = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1];
  const CliRun g = run("run --raw --quiet --temperature 0 --max-tokens 24 --prompt '" + ref["text"].get<std::string>() + "'" + kTiny);
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_EQ(g.out, ref["greedy_text"].get<std::string>() + "\n");
  const CliRun beams = run("run --raw --beams 1 --max-tokens 24 --prompt '" + ref["text"].get<std::string>() + "'" + kTiny);
  ASSERT_EQ(beams.code, 0) << beams.err;
  EXPECT_EQ(beams.out, ref["greedy_text"].get<std::string>() + "\n");
}

TEST(TextCli, ChatKeepsHistoryAndResets) {
  const CliRun r = run("chat --max-tokens 6 --temperature 0" + kTiny, "Hello\nHow are you?\n/reset\nHello\n/exit\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[conversation cleared]"), std::string::npos) << r.err;
  // the second turn reused the first turn's cache
  EXPECT_NE(r.err.find("cached"), std::string::npos);
  // after /reset the same first message gives the same greedy answer
  std::vector<std::string> answers;
  std::size_t at = 0;
  for (std::string line; at < r.out.size();) {
    const std::size_t nl = r.out.find('\n', at);
    answers.push_back(r.out.substr(at, nl - at));
    at = nl == std::string::npos ? r.out.size() : nl + 1;
  }
  ASSERT_GE(answers.size(), 3u) << r.out;
  EXPECT_EQ(answers[0], answers[2]);
}

TEST(TextCli, CtrlCStopsTheAnswerNotTheProgram) {
  const CliRun r = run_interrupted("chat --max-tokens 100000 --temperature 0" + kTiny, "Tell me a long story\n", 300, "/exit\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[stopped]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cancelled"), std::string::npos) << r.err;  // and it went on to read /exit
}

TEST(TextCli, BadInputExitsTwo) {
  TempDir d;
  write_file(d.file("bad.json"), "{\"messages\": [");
  write_file(d.file("obj.json"), "{\"messages\": 3}");
  const std::vector<std::string> cases = {
      "tokenize" + kTiny,                                        // neither --text nor --file
      "tokenize --file /nonexistent/file.txt" + kTiny,           // unreadable file
      "tokenize --text hi --model /nonexistent",                 // missing model
      "detokenize --ids 5,999999" + kTiny,                       // id out of range
      "chat-template --messages " + d.file("bad.json") + kTiny,  // malformed JSON
      "chat-template --messages " + d.file("obj.json") + kTiny,  // not a list
      "run --prompt hi --model " + model_dir("tiny-fp8"),       // no tokenizer.json
      "run --prompt hi --top-p 0" + kTiny,                       // invalid sampling value
      "run --prompt hi --temperature -1" + kTiny,
  };
  for (const auto& args : cases) {
    const CliRun r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(lines(r.err), 1) << args << "\n" << r.err;
  }
  EXPECT_NE(run("run --prompt hi --model " + model_dir("tiny-fp8")).err.find("tokenizer.json"), std::string::npos);
}

}  // namespace
}  // namespace dsv3::test

namespace dsv3::test {
namespace {

// Tool schemas keep their key order through tojson (as Hugging Face renders them).
TEST(TextCli, ChatTemplateKeepsToolCallOrder) {
  TempDir d;
  write_file(d.file("m.json"), R"({"messages": [
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "get_weather", "arguments": "{\"zeta\": 1, \"alpha\": 2}"}}]},
    {"role": "tool", "content": "sunny"}]})");
  const CliRun r = run("chat-template --add-generation-prompt --messages " + d.file("m.json") + " --model " + model_dir("tiny"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"zeta\": 1, \"alpha\": 2}\n```"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>sunny<｜tool▁output▁end｜><｜tool▁outputs▁end｜>"),
            std::string::npos) << r.out;
}

}  // namespace
}  // namespace dsv3::test
