// `--model FILE.gguf` in the commands: a GGUF written by `dsv3 quantize`
// behaves as the checkpoint it came from.
#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/golden.h"
#include "support/temp_dir.h"
#include "support/test_env.h"

namespace dsv3::test {
namespace {

std::string threads() { return " --threads " + std::to_string(test_threads()); }

TEST(GgufCli, EveryCommandTakesAGgufFile) {
  TempDir d;
  const std::string gguf = d.file("tiny.gguf");
  const CliRun q = run("quantize --type f32 --model " + model_dir("tiny") + " --out " + gguf + threads());
  ASSERT_EQ(q.code, 0) << q.err;
  const std::string hf = " --model " + model_dir("tiny"), gg = " --model " + gguf;

  const std::string gen = "generate --ids 0,19923,2058 --max-tokens 12 --temperature 0 --json" + threads();
  const CliRun a = run(gen + hf), b = run(gen + gg);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out.substr(0, a.out.find("\"seconds\"")), b.out.substr(0, b.out.find("\"seconds\"")));

  const std::string chat = "run --prompt 'Hello' --max-tokens 8 --seed 5" + threads();
  const CliRun c = run(chat + hf), e = run(chat + gg);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(c.out, e.out);  // the chat template and tokenizer came from the metadata

  const CliRun t1 = run("tokenize --text 'Hello world, 你好 123'" + hf), t2 = run("tokenize --text 'Hello world, 你好 123'" + gg);
  ASSERT_EQ(t2.code, 0) << t2.err;
  EXPECT_EQ(t1.out, t2.out);

  const CliRun i = run("inspect" + gg);
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_NE(i.out.find("F32"), std::string::npos);
}

TEST(GgufCli, BrokenFilesAreExitCode2WithTheirName) {
  TempDir d;
  write_file(d.file("junk.gguf"), "GGUF not really");
  const CliRun r = run("generate --ids 0,1 --model " + d.file("junk.gguf"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("junk.gguf"), std::string::npos) << r.err;
  const CliRun m = run("generate --ids 0,1 --model " + d.file("missing.gguf"));
  EXPECT_EQ(m.code, 2);
  EXPECT_NE(m.err.find("missing.gguf"), std::string::npos) << m.err;
  const CliRun q = run("quantize --type q9 --model " + model_dir("tiny") + " --out " + d.file("x.gguf"));
  EXPECT_EQ(q.code, 2);
  EXPECT_NE(q.err.find("q9"), std::string::npos) << q.err;
}

}  // namespace
}  // namespace dsv3::test
