// `dsv3 chat` from a pipe (no terminal: plain lines, no editing): the
// banner, /help, /system, /save and /load, multi-line messages, unknown
// commands, and Ctrl-C at an empty prompt explaining how to leave.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/golden.h"
#include "support/temp_dir.h"
#include "support/test_env.h"

namespace dsv3::test {
namespace {

std::string chat_args() {
  return "chat --max-tokens 6 --temperature 0 --model " + model_dir("tiny") + " --threads " +
         std::to_string(test_threads());
}


// The answers printed on stdout, one per line.
std::vector<std::string> answers(const std::string& out) {
  std::vector<std::string> v;
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t nl = out.find('\n', at);
    v.push_back(out.substr(at, nl - at));
    at = nl == std::string::npos ? out.size() : nl + 1;
  }
  return v;
}

TEST(ChatCli, BannerAndHelpWithoutAskingTheModel) {
  const CliRun r = run_command(std::string(DSV3_BINARY) + " " + chat_args(), "/help\n/frobnicate\n/exit\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("dsv3 chat: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("threads"), std::string::npos);
  EXPECT_NE(r.err.find("/save FILE"), std::string::npos);
  EXPECT_NE(r.err.find("unknown command /frobnicate"), std::string::npos);
  EXPECT_EQ(answers_in(r.err), 0);  // neither reached the model
}

TEST(ChatCli, SystemMessageStartsAfresh) {
  const CliRun a = run(chat_args(), "/system Answer briefly.\nHello\n/exit\n");
  const CliRun b = run(chat_args() + " --system 'Answer briefly.'", "Hello\n/exit\n");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_NE(a.err.find("[system message set"), std::string::npos);
  EXPECT_EQ(a.out, b.out);  // the same conversation as --system gives
}

TEST(ChatCli, SaveThenLoadContinuesTheConversation) {
  TempDir d;
  const std::string file = d.file("conv.json");
  const CliRun whole = run(chat_args(), "Hello\nHow are you?\n/exit\n");
  const CliRun first = run(chat_args(), "Hello\n/save " + file + "\n/exit\n");
  ASSERT_EQ(first.code, 0) << first.err;
  const auto saved = nlohmann::json::parse(read_file(file));
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0]["role"], "user");
  EXPECT_EQ(saved[0]["content"], "Hello");
  EXPECT_EQ(saved[1]["role"], "assistant");
  const CliRun second = run(chat_args(), "/load " + file + "\nHow are you?\n/exit\n");
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_NE(second.err.find("[2 messages loaded"), std::string::npos) << second.err;
  ASSERT_GE(answers(whole.out).size(), 2u);
  ASSERT_GE(answers(second.out).size(), 1u);
  EXPECT_EQ(answers(second.out)[0], answers(whole.out)[1]);  // the same second turn
}

TEST(ChatCli, LoadingABadFileIsAnErrorAndTheChatGoesOn) {
  TempDir d;
  write_file(d.file("bad.json"), "[{\"role\": \"wizard\", \"content\": \"hi\"}]");
  const CliRun r = run(chat_args(), "/load " + d.file("bad.json") + "\n/load " + d.file("missing.json") + "\nHello\n/exit\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("unknown role \"wizard\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot open it"), std::string::npos);
  EXPECT_EQ(answers_in(r.err), 1);
}

TEST(ChatCli, MultiLineMessagesByBackslashOrBlock) {
  const CliRun a = run(chat_args(), "first line\\\nsecond line\n/exit\n");
  const CliRun b = run(chat_args(), "\"\"\"\nfirst line\nsecond line\n\"\"\"\n/exit\n");
  const CliRun one = run(chat_args(), "first line\n/exit\n");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(answers_in(a.err), 1);
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.err, one.err);  // a longer prompt than the first line alone
}

TEST(ChatCli, CtrlCAtTheEmptyPromptExplainsHowToLeave) {
  // interrupted once the answer's speed report is out: the prompt is waiting
  const CliRun r = run_interrupted(chat_args(), "Hello\n", 200, "/exit\n", "[prompt: ");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("to leave, type /exit or press Ctrl-D"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dsv3::test
