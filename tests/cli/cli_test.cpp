// The dsv3 binary as users and scripts call it: outputs, and bad input as one
// line on stderr with exit code 2.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "model/safetensors.h"
#include "support/golden.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace dsv3::test {
namespace {

const std::string kTiny = " --model " + model_dir("tiny");
const std::string kFp8 = " --model " + model_dir("tiny-fp8");

TEST(Cli, GenerateJsonMatchesGreedyReference) {
  const auto ref = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][2];
  std::string ids;
  for (int id : ref["ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const CliRun r = run("generate" + kTiny + " --ids " + ids + " --max-tokens 24 --temperature 0 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], ref["greedy"]);
}

TEST(Cli, LogitsWritesSafetensors) {
  TempDir d;
  const CliRun r = run("logits" + kFp8 + " --ids 0,5,9 --out " + d.file("l.safetensors"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto f = SafetensorsFile::open(d.file("l.safetensors"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  const TensorView* t = f->find("logits");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, DType::F32);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{3, 2048}));
}

TEST(Cli, InspectDescribesArchitecture) {
  const CliRun r = run("inspect" + kFp8);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"4 (1 dense, 3 MoE) + 1 MTP", "F8_E4M3", "kv_lora 160", "176 values per token"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " not in:\n" << r.out;
  const CliRun j = run("inspect --json" + kTiny);
  ASSERT_EQ(j.code, 0) << j.err;
  const auto js = nlohmann::json::parse(j.out);
  EXPECT_EQ(js["layers"], 3);
  EXPECT_EQ(js["cache_bytes_per_token_f32"], 3 * 48 * 4);
  EXPECT_GT(js["params"].get<int64_t>(), js["active_params_per_token"].get<int64_t>());
}

TEST(Cli, BadInputExitsTwoWithOneLine) {
  const std::vector<std::string> cases = {
      "generate" + kTiny + " --ids 0,1 --bogus-flag",                  // unknown flag
      "generate --model /nonexistent/model --ids 0,1",                 // missing model
      "generate" + kTiny + " --ids 0,129280",                          // id out of range
      "generate" + kTiny + " --ids 0,-3",                              // negative id
      "generate" + kTiny + " --ids 0,,1",                              // malformed list
      "generate" + kTiny + " --ids abc",                               // not numbers
      "generate" + kTiny + " --ids 0 --max-tokens -1",                 // bad count
      "logits" + kTiny + " --ids 0,5",                                 // missing --out
      "logits" + kFp8 + " --ids 0,2048 --out /tmp/dsv3-never-written", // id out of range
      "inspect --model /nonexistent",                                  // missing model
      "generate" + kTiny + " --ids 0,1 --cache-dtype int4",            // unknown cache dtype
      "generate" + kTiny + " --ids 0,1 --precision fp4",               // unknown precision
      "frobnicate",                                                    // unknown subcommand
      "",                                                              // no subcommand
  };
  for (const auto& args : cases) {
    const CliRun r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << args;
  }
  EXPECT_NE(run("generate" + kTiny + " --ids 0,129280").err.find("129280"), std::string::npos);
  EXPECT_NE(run("generate --model /nonexistent/model --ids 0").err.find("/nonexistent/model"), std::string::npos);
}

TEST(Cli, F16CacheGenerates) {
  const CliRun r = run("generate" + kFp8 + " --ids 0,5,9 --max-tokens 4 --cache-dtype f16 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"].size(), 4u);
}

// The opt-in bf16 prefill through the CLI, on a prompt long enough to take
// that path (its accuracy is checked in tests/golden/bf16_prefill_test.cpp).
TEST(Cli, Bf16PrecisionGenerates) {
  std::string ids = "0";
  for (int i = 1; i < 40; ++i) ids += "," + std::to_string(i * 37 % 2048);
  const CliRun fast = run("generate" + kFp8 + " --ids " + ids + " --max-tokens 4 --json --precision bf16");
  ASSERT_EQ(fast.code, 0) << fast.err;
  EXPECT_EQ(nlohmann::json::parse(fast.out)["ids"].size(), 4u);
}

TEST(Cli, HelpExitsZero) {
  const CliRun r = run("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("generate"), std::string::npos);
}

}  // namespace
}  // namespace dsv3::test
