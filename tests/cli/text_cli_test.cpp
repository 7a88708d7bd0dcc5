// The text subcommands against the tokenizer and chat-template goldens, and
// run / chat as a user drives them.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "base/fifo_writer.h"
#include "engine/completion.h"
#include "model/model.h"
#include "support/cli_runner.h"
#include "support/golden.h"
#include "support/temp_dir.h"
#include "support/test_env.h"
#include "text/chat_template.h"

namespace dsv3::test {
namespace {

const std::string kTiny = " --model " + model_dir("tiny");
// the pool of each dsv3 run: DSV3_TEST_THREADS, not every core
std::string threads() { return " --threads " + std::to_string(test_threads()); }
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
  const CliRun a = run("run --prompt 'Hello' --max-tokens 12 --seed 5" + kTiny + threads());
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_GT(a.out.size(), 1u);
  EXPECT_NE(a.err.find("tokens/s"), std::string::npos) << a.err;
  const CliRun b = run("run --prompt 'Hello' --max-tokens 12 --seed 5" + kTiny + threads());
  EXPECT_EQ(a.out, b.out);  // same seed, same text
  // greedy --raw equals the reference continuation of prompt 1
  const auto ref = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1];
  const CliRun g = run("run --raw --quiet --temperature 0 --max-tokens 24 --prompt '" + ref["text"].get<std::string>() + "'" + kTiny + threads());
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_EQ(g.out, ref["greedy_text"].get<std::string>() + "\n");
  const CliRun beams = run("run --raw --beams 1 --max-tokens 24 --prompt '" + ref["text"].get<std::string>() + "'" + kTiny + threads());
  ASSERT_EQ(beams.code, 0) << beams.err;
  EXPECT_EQ(beams.out, ref["greedy_text"].get<std::string>() + "\n");
}

// Speed reports on stderr: one per answer, cancelled or not.

TEST(TextCli, ChatKeepsHistoryAndResets) {
  // what follows /exit is never answered: /exit was read, not end of input
  const CliRun r = run("chat --max-tokens 6 --temperature 0" + kTiny + threads(),
                       "Hello\nHow are you?\n/reset\nHello\n/exit\nAre you still there?\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(answers_in(r.err), 3) << r.err;
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
  const CliRun r = run_interrupted("chat --max-tokens 100000 --temperature 0" + kTiny + threads(), "Tell me a long story\n", 300,
                                   "/exit\nAnd another one\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[stopped]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cancelled"), std::string::npos) << r.err;
  // it went on to read /exit (and so left the question after it unanswered)
  EXPECT_EQ(answers_in(r.err), 1) << r.err;
}

// A flag with a value derived from model output, quoted for the shell, and
// attached with '=' so that a value starting with '-' stays a value.
std::string flag(const std::string& name, const std::string& value) {
  std::string q = "'";
  for (char ch : value) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return " " + name + "=" + q + "'";
}
const nlohmann::json& reference_prompt() {
  static const nlohmann::json j = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1];
  return j;
}
// `run --raw` on the reference prompt with extra flags.
CliRun run_raw(const std::string& model_flag, const std::string& flags) {
  return run("run --raw --max-tokens 24 --prompt '" + reference_prompt()["text"].get<std::string>() + "'" + model_flag +
             threads() + flags);
}

// --stop with --beams: one beam is greedy decoding, so it stops where
// sampling at temperature 0 stops; with several beams the text never holds
// the stop string (taken from the unstopped beam output, which does).
TEST(TextCli, BeamsHonourStopStrings) {
  const CliRun free_run = run_raw(kTiny, " --beams 1 --quiet");
  ASSERT_EQ(free_run.code, 0) << free_run.err;
  const std::string text = free_run.out.substr(0, free_run.out.size() - 1);
  ASSERT_GT(text.size(), 8u);
  const std::string stop = text.substr(text.size() / 2, 3);
  const CliRun greedy = run_raw(kTiny, " --temperature 0 --quiet" + flag("--stop", stop));
  ASSERT_EQ(greedy.code, 0) << greedy.err;
  EXPECT_EQ(greedy.out, text.substr(0, text.find(stop)) + "\n");
  const CliRun beam = run_raw(kTiny, " --beams 1 --quiet" + flag("--stop", stop));
  ASSERT_EQ(beam.code, 0) << beam.err;
  EXPECT_EQ(beam.out, greedy.out);

  const CliRun three = run_raw(kTiny, " --beams 3 --quiet");
  ASSERT_EQ(three.code, 0) << three.err;
  ASSERT_GT(three.out.size(), 8u);
  const std::string stop3 = three.out.substr(three.out.size() / 2, 2);
  const CliRun cut = run_raw(kTiny, " --beams 3 --quiet" + flag("--stop", stop3));
  ASSERT_EQ(cut.code, 0) << cut.err;
  EXPECT_EQ(cut.out.find(stop3), std::string::npos) << cut.out;
  // generate --beams: the ids end with the token that completed the stop string, the text stops before it
  std::string ids;
  for (int id : reference_prompt()["ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const CliRun g = run("generate --beams 1 --max-tokens 24 --json --ids " + ids + flag("--stop", stop) + kTiny + threads());
  ASSERT_EQ(g.code, 0) << g.err;
  const auto j = nlohmann::json::parse(g.out);
  EXPECT_EQ(j["text"], text.substr(0, text.find(stop)));
  const auto got = j["ids"].get<std::vector<int32_t>>();
  ASSERT_FALSE(got.empty());
  EXPECT_NE(tiny_tokenizer().decode(got).find(stop), std::string::npos);
  EXPECT_EQ(tiny_tokenizer().decode(std::span(got).first(got.size() - 1)).find(stop), std::string::npos);
}

// The system message reaches the chat template: run's prompt is the
// template's rendering of [system, user], and its answer the greedy
// continuation of those tokens computed here.
TEST(TextCli, SystemPromptReachesTheTemplate) {
  const std::string system = "You answer in French.", user = "Hello";
  auto chat = text::ChatTemplate::load(model_dir("tiny"));
  ASSERT_TRUE(chat.ok()) << chat.error().message;
  auto prompt_of = [&](bool with_system) {
    nlohmann::ordered_json m = nlohmann::ordered_json::array();
    if (with_system) m.push_back({{"role", "system"}, {"content", system}});
    m.push_back({{"role", "user"}, {"content", user}});
    auto text = chat->render(m, true);
    EXPECT_TRUE(text.ok());
    return tiny_tokenizer().encode(text.ok() ? *text : "");
  };
  const auto with = prompt_of(true), without = prompt_of(false);
  ASSERT_GT(with.size(), without.size());
  Scheduler s(*loaded("tiny").transformer, &tiny_tokenizer(), one_sequence_options());
  Job req;
  req.prompt = with;
  req.sampling.temperature = 0.0f;
  req.max_tokens = 8;
  for (int64_t id : loaded("tiny").model->eos_token_ids) req.stop_tokens.push_back(static_cast<int32_t>(id));
  auto want = complete(s, req);
  ASSERT_TRUE(want.ok());
  const CliRun r = run("run --temperature 0 --max-tokens 8 --system '" + system + "' --prompt '" + user + "'" + kTiny + threads());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[prompt: " + std::to_string(with.size()) + " tokens"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, want->text + "\n");
  const CliRun plain = run("run --temperature 0 --max-tokens 1 --prompt '" + user + "'" + kTiny + threads());
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_NE(plain.err.find("[prompt: " + std::to_string(without.size()) + " tokens"), std::string::npos) << plain.err;
}

// A model directory like the tiny model's with one file written (replaced
// or added), or made a FIFO: the others are links to the originals.
class ModelDir {
 public:
  enum Kind { kFile, kFifo };
  ModelDir(const std::string& file, const std::string& text, Kind kind = kFile) {
    for (const auto& e : std::filesystem::directory_iterator(model_dir("tiny"))) {
      const std::string name = e.path().filename().string();
      if (name != file) std::filesystem::create_symlink(e.path(), dir_.path() / name);
    }
    if (kind == kFifo) {
      EXPECT_TRUE(make_fifo(dir_.file(file)));
    } else {
      write_file(dir_.file(file), text);
    }
  }
  std::string flag() const { return " --model " + dir_.path().string(); }
  std::string path() const { return dir_.path().string(); }
  std::string file(const std::string& name) const { return dir_.file(name); }

 private:
  TempDir dir_;
};

// generation_config.json's sampling defaults apply when no flag says otherwise:
// each of these makes run greedy (without it, run samples at 0.6).
TEST(TextCli, GenerationConfigDefaults) {
  const std::string greedy = reference_prompt()["greedy_text"].get<std::string>() + "\n";
  for (const std::string cfg : {R"({"temperature": 0.0})", R"({"do_sample": false, "temperature": 0.9})",
                                R"({"temperature": 0.8, "top_k": 1})"}) {
    SCOPED_TRACE(cfg);
    ModelDir m("generation_config.json", cfg);
    const CliRun r = run_raw(m.flag(), " --quiet");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, greedy);
  }
  // flags win over it
  ModelDir m("generation_config.json", R"({"temperature": 0.0})");
  const CliRun hot = run_raw(m.flag(), " --quiet --temperature 1 --seed 3");
  ASSERT_EQ(hot.code, 0) << hot.err;
  EXPECT_NE(hot.out, greedy);
  // without one, the default (0.6) samples: a seeded run is not the greedy text
  const CliRun plain = run_raw(kTiny, " --quiet --seed 3");
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_NE(plain.out, greedy);
}

// eos_token_id as a list, in config.json or generation_config.json (added to
// config.json's): generation stops at whichever comes first.
TEST(TextCli, EosTokenListsStopGeneration) {
  const auto g = reference_prompt()["greedy"].get<std::vector<int32_t>>();
  const int32_t a = g[9], b = g[5];  // listed out of order: the first to come stops it
  std::size_t stop_at = 0;
  while (stop_at < g.size() && g[stop_at] != a && g[stop_at] != b) ++stop_at;
  ASSERT_LT(stop_at, g.size());
  const std::string text = tiny_tokenizer().decode(std::span(g).first(stop_at));
  nlohmann::json config = read_json(model_dir("tiny") + "/config.json");
  config["eos_token_id"] = {a, b};
  const std::string list = "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
  const ModelDir in_config("config.json", config.dump());
  const ModelDir in_generation("generation_config.json", R"({"eos_token_id": )" + list + "}");
  auto eos_of = [](const ModelDir& m) {
    auto model = Model::load(m.path());
    EXPECT_TRUE(model.ok()) << model.error().message;
    return model.ok() ? (*model)->eos_token_ids : std::vector<int64_t>{};
  };
  EXPECT_EQ(eos_of(in_config), (std::vector<int64_t>{a, b}));
  EXPECT_EQ(eos_of(in_generation), (std::vector<int64_t>{1, a, b}));
  for (const ModelDir* m : {&in_config, &in_generation}) {
    const CliRun r = run_raw(m->flag(), " --temperature 0");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, text + "\n");
    EXPECT_NE(r.err.find("generation: " + std::to_string(stop_at + 1) + " tokens"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("| stop]"), std::string::npos) << r.err;
  }
}

// Any file of a model directory that is a FIFO (a planted one, say) makes
// a model command fail at once, naming it, instead of hanging in open().
TEST(TextCli, FifoInTheModelDirectoryIsRefusedNotWaitedOn) {
  for (const std::string file : {"config.json", "model.safetensors.index.json", "model-00002-of-00003.safetensors",
                                 "generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
    SCOPED_TRACE(file);
    const ModelDir m(file, "", ModelDir::kFifo);
    const CliRun r = call_beside_fifo(m.file(file), [&] { return run("run --prompt hi --max-tokens 1" + m.flag() + threads()); });
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(m.file(file) + ": not a regular file"), std::string::npos) << r.err;
  }
  // commands that read one file: inspect (config.json), tokenize (tokenizer.json)
  const ModelDir config("config.json", "", ModelDir::kFifo);
  const CliRun inspect = call_beside_fifo(config.file("config.json"), [&] { return run("inspect" + config.flag()); });
  EXPECT_EQ(inspect.code, 2) << inspect.err;
  EXPECT_NE(inspect.err.find("config.json: not a regular file"), std::string::npos) << inspect.err;
  const ModelDir tok("tokenizer.json", "", ModelDir::kFifo);
  const CliRun tokenize = call_beside_fifo(tok.file("tokenizer.json"), [&] { return run("tokenize --text hi" + tok.flag()); });
  EXPECT_EQ(tokenize.code, 2) << tokenize.err;
  EXPECT_NE(tokenize.err.find("tokenizer.json: not a regular file"), std::string::npos) << tokenize.err;
}

// generation_config.json's token ids must be tokens of the model: one outside
// the vocabulary (or not an integer) is refused, naming key and value, not
// silently dropped.
TEST(TextCli, GenerationConfigIdsOutsideTheVocabularyAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"eos_token_id": [1, 129280]})", "\"eos_token_id\" (129280)"},
      {R"({"eos_token_id": -2})", "\"eos_token_id\" (-2)"},
      {R"({"eos_token_id": [1, "2"]})", "\"eos_token_id\""},
      {R"({"bos_token_id": -5})", "\"bos_token_id\" (-5)"},
  };
  for (const auto& [cfg, shown] : cases) {
    SCOPED_TRACE(cfg);
    const ModelDir m("generation_config.json", cfg);
    auto model = Model::load(m.path());
    ASSERT_FALSE(model.ok());
    EXPECT_NE(model.error().message.find("generation_config.json"), std::string::npos) << model.error().message;
    EXPECT_NE(model.error().message.find(shown), std::string::npos) << model.error().message;
  }
  const ModelDir m("generation_config.json", R"({"eos_token_id": 999999})");
  const CliRun r = run("run --prompt hi --max-tokens 1" + m.flag() + threads());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("999999"), std::string::npos) << r.err;
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
