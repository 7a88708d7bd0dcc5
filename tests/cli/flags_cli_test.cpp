// Flags as people type them: typos get a "did you mean", common flags have
// short forms, a repeated flag takes its last value, contradictions and
// oversized thread counts are called out, "-" reads a prompt from stdin.
#include <gtest/gtest.h>

#include <algorithm>

#include "base/edit_distance.h"
#include "support/cli_runner.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

const std::string kTiny = " --model " + model_dir("tiny");

TEST(Flags, EditDistanceCountsTyposOnce) {
  EXPECT_EQ(edit_distance("--modle", "--model"), 1);  // a swap
  EXPECT_EQ(edit_distance("--temperatur", "--temperature"), 1);
  EXPECT_EQ(edit_distance("rnu", "run"), 1);
  EXPECT_EQ(edit_distance("abc", "abc"), 0);
  EXPECT_EQ(edit_distance("", "abc"), 3);
}

TEST(Flags, MistypedSubcommandSuggestsTheRealOne) {
  const CliRun r = run("rnu --model x");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean 'run'?"), std::string::npos) << r.err;
}

TEST(Flags, MistypedFlagSuggestsTheRealOne) {
  CliRun r = run("run --modle x --prompt hi");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean --model?"), std::string::npos) << r.err;
  r = run("generate" + kTiny + " --ids 1 --temperatur 0.5");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean --temperature?"), std::string::npos) << r.err;
  r = run("generate" + kTiny + " --ids 1 --zzzzzzzz 0.5");  // nothing close: no guess
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << r.err;
}

TEST(Flags, ShortFormsEqualLongForms) {
  const CliRun a = run("generate -m " + model_dir("tiny") + " --ids 0,5,9 -n 4 -t 1");
  const CliRun b = run("generate --model " + model_dir("tiny") + " --ids 0,5,9 --max-tokens 4 --threads 1");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(std::count(a.out.begin(), a.out.end(), ','), 3);  // 4 ids
}

TEST(Flags, RepeatedFlagTakesTheLastValue) {
  const CliRun r = run("generate" + kTiny + " --ids 0,5 --threads 1 --max-tokens 2 --max-tokens 5");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ','), 4);  // 5 ids
}

TEST(Flags, BeamsWithSamplingIsRefusedBeforeLoading) {
  const CliRun r = run("generate --model /nonexistent --ids 0 --beams 2 --temperature 0.7");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--beams searches deterministically"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--temperature"), std::string::npos);
}

TEST(Flags, ServeAgentFlagsAreCheckedBeforeServing) {
  const CliRun parser = run("serve" + kTiny + " --port 0 --tool-parser hermes");
  EXPECT_EQ(parser.code, 2);
  EXPECT_NE(parser.err.find("--tool-parser"), std::string::npos) << parser.err;
  const CliRun file = run("serve" + kTiny + " --port 0 --chat-template /nonexistent/t.jinja");
  EXPECT_EQ(file.code, 2);
  EXPECT_NE(file.err.find("/nonexistent/t.jinja"), std::string::npos) << file.err;
  const CliRun kwargs = run("serve" + kTiny + " --port 0 --chat-template-kwargs '[1]'");
  EXPECT_EQ(kwargs.code, 2);
  EXPECT_NE(kwargs.err.find("--chat-template-kwargs must be a JSON object"), std::string::npos) << kwargs.err;
}

TEST(Flags, MoreThreadsThanCoresIsAWarning) {
  const CliRun r = run("generate" + kTiny + " --ids 0 --max-tokens 1 --threads 1024");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: --threads 1024 is more than this machine's"), std::string::npos) << r.err;
}

TEST(Flags, DashPromptReadsStdin) {
  const std::string args = "run" + kTiny + " --threads 1 --max-tokens 4 --temperature 0 --quiet";
  const CliRun a = run(args + " -p -", "Tell me a story\n");
  const CliRun b = run(args + " --prompt 'Tell me a story'");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_FALSE(a.out.empty());
  EXPECT_EQ(a.out.back(), '\n');  // the answer ends its line
}

}  // namespace
}  // namespace dsv3::test
