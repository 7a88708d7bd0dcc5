// dsv3 under mpirun (OpenMPI, --oversubscribe on this machine's cores): a
// model split across 2 and 3 processes gives the single process's logits and
// greedy tokens; rank 0 alone writes and prints; splits that cannot work are
// refused; each rank maps what its shard binds. Skipped where mpirun or a
// binary built with MPI is missing. The same splits are tested in-process
// (with ranks as threads) by tests/golden/split_model_golden_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "model/safetensors.h"
#include "support/cli_runner.h"
#include "support/golden.h"
#include "support/reference_checks.h"
#include "support/temp_dir.h"

namespace dsv3::test {
namespace {

// Whether mpirun and an MPI build are here; if not, why.
bool mpi_ready(std::string* why) {
  static const std::string reason = [] {
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0) return std::string("mpirun is not installed");
    const CliRun v = run("--version");
    if (v.out.find("MPI on") == std::string::npos) return "this dsv3 was built without MPI: " + v.out;
    return std::string();
  }();
  if (why) *why = reason;
  return reason.empty();
}

class Mpi : public testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!mpi_ready(&why)) GTEST_SKIP() << why;
    // CI containers run as root; OpenMPI refuses that unless told
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    // OpenMPI's own allocations outlive MPI_Finalize: not the engine's leaks
    // (the in-process split tests, tests/golden/split_model_golden_test.cpp,
    // run the engine's side of the ranks under LeakSanitizer)
    const char* asan = std::getenv("ASAN_OPTIONS");
    setenv("ASAN_OPTIONS", ((asan ? std::string(asan) + ":" : std::string()) + "detect_leaks=0").c_str(), 1);
  }
  // "mpirun -np N <dsv3> ARGS" (one thread per rank: ranks share this machine's cores)
  static CliRun mpirun(int np, const std::string& args) {
    return run_command("mpirun --oversubscribe -np " + std::to_string(np) + " " + DSV3_BINARY + " " + args +
                       " --threads 1");
  }
};

// The single process's logits rows of ids (in-process, the exact path).
std::vector<float> single_process_logits(const std::string& model, const std::vector<int32_t>& ids, int64_t chunk) {
  ForwardPass& f = *loaded(model).transformer;
  const int64_t vocab = f.config().vocab_size;
  std::vector<float> out(ids.size() * static_cast<std::size_t>(vocab));
  for_each_logits_row(f, ids, chunk, [&](int64_t r, const float* row) {
    std::copy(row, row + vocab, out.begin() + r * vocab);
  });
  return out;
}

struct Case {
  std::string model;
  int ranks;
  std::string layout;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " np " << c.ranks << " " << c.layout; }

class MpiLogits : public Mpi, public testing::WithParamInterface<Case> {};

// Every golden prompt and its greedy continuation (rows teacher-forced in one
// prefill): within 1e-4 of the single process and 1e-3 of the reference.
TEST_P(MpiLogits, EveryGoldenRowMatches) {
  const Case& c = GetParam();
  TempDir d;
  double worst_single = 0, worst_ref = 0;
  for (int p = 0; p < reference_prompt_count(c.model); ++p) {
    const auto ids = prompt_and_greedy(c.model, p);
    const std::string out = d.file("p" + std::to_string(p) + ".st");
    const CliRun r = mpirun(c.ranks, "logits --model " + model_dir(c.model) + " --parallel " + c.layout + " --ids " +
                                         join_ids(ids) + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    auto f = SafetensorsFile::open(out);
    ASSERT_TRUE(f.ok()) << f.error().message;
    const TensorView* t = f->find("logits");
    ASSERT_NE(t, nullptr);
    const int64_t vocab = t->shape[1];
    ASSERT_EQ(t->shape[0], static_cast<int64_t>(ids.size()));
    const float* got = reinterpret_cast<const float*>(t->data);
    const auto want = single_process_logits(c.model, ids, 512);
    for (std::size_t i = 0; i < want.size(); ++i)
      worst_single = std::max(worst_single, std::abs(double(got[i]) - want[i]));
    for (int64_t row = 0; row < t->shape[0]; ++row)
      worst_ref = std::max(worst_ref, reference_row_error(reference_golden(c.model), "p" + std::to_string(p) + ".", row,
                                                          got + row * vocab, vocab));
  }
  EXPECT_LE(worst_single, 1e-4);
  EXPECT_LE(worst_ref, 1e-3);
  RecordProperty("max_abs_diff_vs_single_process", std::to_string(worst_single));
  RecordProperty("max_abs_diff_vs_reference", std::to_string(worst_ref));
}

std::vector<Case> logits_cases() {
  std::vector<Case> v;
  for (const std::string m : {"tiny", "tiny-fp8"})
    for (int n : {2, 3})
      for (const std::string l : {"ep", "ep+tp"}) v.push_back({m, n, l});
  return v;
}
INSTANTIATE_TEST_SUITE_P(Cli, MpiLogits, testing::ValuesIn(logits_cases()), [](const auto& info) {
  std::string s = info.param.model + "_np" + std::to_string(info.param.ranks) + "_" + info.param.layout;
  for (char& ch : s)
    if (ch == '-' || ch == '+') ch = '_';
  return s;
});

// Greedy decoding (prefill, then one token per pass) prints the single
// process's tokens, once.
// Every prompt of the bf16 model, the first of the fp8 one: the in-process
// split goldens (tests/golden) already hold every prompt of both to the
// reference; these runs check what only mpirun shows (ranks, printing once).
TEST_F(Mpi, GreedyTokensIdenticalAndPrintedOnce) {
  for (const std::string model : {"tiny", "tiny-fp8"}) {
    for (int p = 0; p < (model == "tiny" ? reference_prompt_count(model) : 1); ++p) {
      const auto& pr = reference_json(model)["prompts"][p];
      const std::string args = "generate --model " + model_dir(model) + " --ids " +
                               join_ids(pr["ids"].get<std::vector<int32_t>>()) + " --max-tokens " +
                               std::to_string(pr["greedy"].size()) + " --temperature 0";
      const CliRun one = run(args + " --threads 1");
      ASSERT_EQ(one.code, 0) << one.err;
      for (const auto& [np, layout] : {std::pair{2, "ep+tp"}, std::pair{3, "ep"}}) {
        const CliRun r = mpirun(np, args + " --parallel " + layout);
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out, one.out) << model << " prompt " << p << " np " << np << " " << layout;
      }
    }
  }
}

// Past YaRN's original 4096 positions, in 512-token chunks: the long golden's
// 5016 rows, its top-32 and logsumexp, and the single process's rows.
TEST_F(Mpi, LongContextTwoRanks) {
  const std::string dir = reference_dir() + "/goldens/long/tiny-fp8";
  const auto ref = read_json(dir + "/reference.json");
  const Golden g(dir + "/reference.safetensors");
  std::vector<int32_t> ids = ref["ids"].get<std::vector<int32_t>>();
  for (int32_t t : ref["greedy"].get<std::vector<int32_t>>()) ids.push_back(t);
  TempDir d;
  write_file(d.file("ids.txt"), join_ids(ids));
  const CliRun r = mpirun(2, "logits --model " + model_dir("tiny-fp8") + " --parallel ep+tp --chunk 512 --ids \"$(cat " +
                                 d.file("ids.txt") + ")\" --out " + d.file("long.st"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto f = SafetensorsFile::open(d.file("long.st"));
  ASSERT_TRUE(f.ok());
  const float* got = reinterpret_cast<const float*>(f->find("logits")->data);
  const int64_t vocab = f->find("logits")->shape[1];
  double worst_ref = 0;
  for (std::size_t row = 0; row < ids.size(); ++row) {
    const float* l = got + row * vocab;
    for (int k = 0; k < 32; ++k)
      worst_ref = std::max(worst_ref, std::abs(double(l[g.i32("top32_ids")[row * 32 + k]]) -
                                               g.f32("top32_logits")[row * 32 + k]));
    worst_ref = std::max(worst_ref, std::abs(logsumexp(l, vocab) - g.f32("logsumexp")[row]));
  }
  EXPECT_LE(worst_ref, 1e-3);
  const auto want = single_process_logits("tiny-fp8", ids, 512);
  double worst_single = 0;
  for (std::size_t i = 0; i < want.size(); ++i) worst_single = std::max(worst_single, std::abs(double(got[i]) - want[i]));
  EXPECT_LE(worst_single, 1e-4);
  RecordProperty("max_abs_diff_vs_reference", std::to_string(worst_ref));
}

// Rank 0 alone writes --out: the directory holds one file, complete.
TEST_F(Mpi, LogitsFileWrittenOnceByRankZero) {
  TempDir d;
  const CliRun r = mpirun(3, "logits --model " + model_dir("tiny-fp8") + " --ids 0,5,9 --out " + d.file("l.st"));
  ASSERT_EQ(r.code, 0) << r.err;
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(d.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "l.st");
  }
  EXPECT_EQ(entries, 1);
  auto f = SafetensorsFile::open(d.file("l.st"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find("logits")->shape, (std::vector<int64_t>{3, 2048}));
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(Mpi, RefusesMoreRanksThanExperts) {
  const CliRun r = mpirun(9, "logits --model " + model_dir("tiny-fp8") + " --ids 0 --out /tmp/dsv3-never-written");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(count_of(r.err, "9 ranks for 8 routed experts"), 1) << r.err;  // said once, by rank 0
}

// Ranks started on different checkpoints (MPMD) are caught before any pass.
TEST_F(Mpi, RefusesRanksThatLoadedDifferentModels) {
  const std::string tail = " logits --ids 0 --out /tmp/dsv3-never-written --threads 1";
  const CliRun r = run_command(std::string("mpirun --oversubscribe -np 1 ") + DSV3_BINARY + tail + " --model " +
                       model_dir("tiny-fp8") + " : -np 1 " + DSV3_BINARY + tail + " --model " + model_dir("tiny"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("rank 1 loaded a different model"), std::string::npos) << r.err;
}

TEST_F(Mpi, RefusesCudaRanks) {
  const CliRun r = mpirun(2, "logits --model " + model_dir("tiny-fp8") + " --ids 0 --out /tmp/dsv3-never-written "
                             "--device cuda");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("CPU ranks only"), std::string::npos) << r.err;
}

// A model whose routed experts dominate its bytes (a synthetic one: random
// fp8 weights): each rank binds the replicated part and its share of the
// experts, and what it has touched of the files after a prefill and decode
// (Rss in /proc/self/smaps) stays within what it bound.
TEST_F(Mpi, EachRankMapsItsShard) {
  TempDir d;
  const std::string model = d.file("m");
  const CliRun s = run("synth --preset expert-heavy --dtype fp8 --out " + model);
  ASSERT_EQ(s.code, 0) << s.err;
  const CliRun whole = run("inspect --json --model " + model);
  ASSERT_EQ(whole.code, 0) << whole.err;
  const int64_t all = nlohmann::json::parse(whole.out)["bytes"].get<int64_t>();
  for (const std::string layout : {"ep", "ep+tp"}) {
    const CliRun r = mpirun(2, "bench --json --skip-membw --prompt-tokens 64 --gen-tokens 4 --model " + model +
                                   " --parallel " + layout);
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["ranks"].size(), 2u);
    for (const auto& rank : j["ranks"]) {
      const int64_t bound = rank["weight_bytes"].get<int64_t>(), resident = rank["resident_bytes"].get<int64_t>();
      EXPECT_LT(bound, all * 6 / 10) << layout << ": rank " << rank["rank"] << " binds most of the model";
      EXPECT_GT(bound, all * 4 / 10);
      // touched pages: at most the bound views plus the pages their edges share with neighbours
      EXPECT_LE(resident, bound + bound / 20 + (2 << 20)) << layout << " rank " << rank["rank"];
      EXPECT_GT(resident, 0);
      EXPECT_GT(rank["collectives_per_token"].get<double>(), 0.0);
    }
  }
}

}  // namespace
}  // namespace dsv3::test
