// The dsv3 binary as users and scripts call it: outputs, and bad input as one
// line on stderr with exit code 2.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>

#include "engine/session.h"
#include "model/safetensors.h"
#include "ops/cpu/kernels.h"
#include "support/golden.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"
#include "support/test_env.h"

namespace dsv3::test {
namespace {

const std::string kTiny = " --model " + model_dir("tiny");
const std::string kFp8 = " --model " + model_dir("tiny-fp8");
// the pool of each dsv3 run: DSV3_TEST_THREADS, not every core
std::string threads() { return " --threads " + std::to_string(test_threads()); }

TEST(Cli, GenerateJsonMatchesGreedyReference) {
  const auto ref = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][2];
  std::string ids;
  for (int id : ref["ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const CliRun r = run("generate" + kTiny + threads() + " --ids " + ids + " --max-tokens 24 --temperature 0 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], ref["greedy"]);
}

TEST(Cli, LogitsWritesSafetensors) {
  TempDir d;
  const CliRun r = run("logits" + kFp8 + threads() + " --ids 0,5,9 --out " + d.file("l.safetensors"));
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


// The exact (f32) greedy continuation of a prompt on tiny-fp8, computed in
// this process, and the gap between the best and second-best logit at each step.
struct Greedy {
  std::vector<int32_t> ids;
  std::vector<float> gaps;
  // leading tokens decided by more than `margin`: a path off by less cannot change them
  std::size_t decided(float margin) const {
    std::size_t k = 0;
    while (k < gaps.size() && gaps[k] > margin) ++k;
    return k;
  }
};
Greedy exact_greedy(const std::vector<int32_t>& prompt, int n) {
  Transformer& t = *loaded("tiny-fp8").transformer;
  const int64_t vocab = t.config().vocab_size;
  Session s(t, 0);
  Greedy g;
  EXPECT_TRUE(s.append(prompt).ok());
  for (int i = 0; i < n; ++i) {
    const float* l = s.last_logits().data();
    const int32_t best = argmax(l, vocab);
    float second = -INFINITY;
    for (int64_t v = 0; v < vocab; ++v)
      if (v != best) second = std::max(second, l[v]);
    g.ids.push_back(best);
    g.gaps.push_back(l[best] - second);
    EXPECT_TRUE(s.append(std::span<const int32_t>(&best, 1)).ok());
  }
  return g;
}

// A reduced-precision path through the CLI gives the exact greedy tokens
// wherever the exact logits decide them by more than `margin` (a bound on
// that path's logit error, with room: measured below). Among candidate
// prompts the first whose leading `need` tokens are so decided is used, so
// the comparison always covers at least `need` tokens.
void expect_greedy_up_to_near_tie(const std::string& flags, float margin, std::size_t need,
                                  const std::function<std::vector<int32_t>(int)>& candidate) {
  constexpr int kTokens = 8;
  std::optional<std::vector<int32_t>> prompt;
  Greedy g;
  for (int k = 0; k < 32 && !prompt; ++k) {
    g = exact_greedy(candidate(k), kTokens);
    if (g.decided(margin) >= need) prompt = candidate(k);
  }
  ASSERT_TRUE(prompt.has_value()) << "no candidate prompt has " << need << " tokens decided by " << margin;
  const CliRun r = run("generate" + kFp8 + threads() + " --ids " + join_ids(*prompt) + " --max-tokens " +
                       std::to_string(kTokens) + " --json" + flags);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto got = nlohmann::json::parse(r.out)["ids"].get<std::vector<int32_t>>();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kTokens));
  const std::vector<double> gaps(g.gaps.begin(), g.gaps.end());
  EXPECT_GE(expect_greedy_until_near_tie(got, g.ids, gaps, margin, "generate" + flags), static_cast<int64_t>(need));
}

// The f16 cache moves tiny-fp8's logits by at most 0.004 (measured on the
// greedy path of 0,5,9); margin 0.02.
TEST(Cli, F16CacheMatchesExactUpToANearTie) {
  expect_greedy_up_to_near_tie(" --cache-dtype f16", 0.02f, 4, [](int k) {
    return std::vector<int32_t>{0, (5 + 37 * k) % 2048, (9 + 91 * k) % 2048};
  });
}

// The opt-in bf16 prefill through the CLI, on prompts long enough to take
// that path (its accuracy is checked in tests/golden/bf16_prefill_test.cpp):
// it moves tiny-fp8's logits by up to 0.08 (measured on a 40-token prompt); margin 0.25.
TEST(Cli, Bf16PrecisionMatchesExactUpToANearTie) {
  expect_greedy_up_to_near_tie(" --precision bf16", 0.25f, 3, [](int k) {
    std::vector<int32_t> ids{0};
    for (int i = 1; i < 40; ++i) ids.push_back((i * (37 + 2 * k)) % 2048);
    return ids;
  });
}

// Chunked prefill gives the logits of the whole prompt at once, and both
// equal the in-process forward pass.
TEST(Cli, LogitsChunkEqualsWholePrompt) {
  std::vector<int32_t> ids{0};
  for (int i = 1; i < 21; ++i) ids.push_back((i * 113) % 2048);
  TempDir d;
  std::vector<std::vector<float>> outs;
  for (const std::string chunk : {"0", "3", "7", "512"}) {
    const std::string out = d.file("l" + chunk + ".safetensors");
    const CliRun r = run("logits" + kFp8 + threads() + " --ids " + join_ids(ids) + " --chunk " + chunk + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    auto f = SafetensorsFile::open(out);
    ASSERT_TRUE(f.ok()) << f.error().message;
    const TensorView* t = f->find("logits");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->shape, (std::vector<int64_t>{21, 2048}));
    const float* p = reinterpret_cast<const float*>(t->data);
    outs.emplace_back(p, p + 21 * 2048);
  }
  std::vector<float> want(21 * 2048);
  for_each_logits_row(*loaded("tiny-fp8").transformer, ids, 0,
                      [&](int64_t row, const float* l) { std::copy(l, l + 2048, want.begin() + row * 2048); });
  for (std::size_t c = 0; c < outs.size(); ++c) {
    double worst = 0;
    for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, double(std::abs(outs[c][i] - want[i])));
    EXPECT_LT(worst, 1e-4) << "chunk case " << c;
  }
}

// Sets an environment variable for the dsv3 processes a test starts (this
// process has chosen its own kernels before).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    (void)ops::cpu::kernels();
    if (const char* v = std::getenv(name)) old_ = v;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

nlohmann::json bench_json(const std::string& args) {
  const CliRun r = run("bench" + kFp8 + threads() + " --prompt-tokens 8 --gen-tokens 4 --warmup 0 --skip-membw --json" + args);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// DSV3_ISA picks the kernels (bench reports which ran) without changing the
// results beyond rounding; a value this CPU cannot run is refused.
TEST(Cli, IsaOverride) {
  const auto available = ops::cpu::available_isas();
  ASSERT_FALSE(available.empty());
  EXPECT_EQ(bench_json("")["isa"], available.front()) << "the best kernels by default";
  std::vector<int32_t> ids{0};
  for (int i = 1; i < 12; ++i) ids.push_back((i * 71) % 2048);
  TempDir d;
  const std::string args = " --ids " + join_ids(ids) + " --out ";
  ASSERT_EQ(run("logits" + kFp8 + threads() + args + d.file("default.st")).code, 0);
  for (const std::string& isa : available) {
    SCOPED_TRACE(isa);
    ScopedEnv env("DSV3_ISA", isa);
    EXPECT_EQ(bench_json("")["isa"], isa);
    const CliRun r = run("logits" + kFp8 + threads() + args + d.file(isa + ".st"));
    ASSERT_EQ(r.code, 0) << r.err;
    auto a = SafetensorsFile::open(d.file("default.st"));
    auto b = SafetensorsFile::open(d.file(isa + ".st"));
    ASSERT_TRUE(a.ok() && b.ok());
    const float* x = reinterpret_cast<const float*>(a->find("logits")->data);
    const float* y = reinterpret_cast<const float*>(b->find("logits")->data);
    double worst = 0;
    for (std::size_t i = 0; i < ids.size() * 2048; ++i) worst = std::max(worst, double(std::abs(x[i] - y[i])));
    EXPECT_LT(worst, 1e-4);
  }
  for (const char* bad : {"bogus", "avx512_bf16", "AVX2"}) {
    ScopedEnv env("DSV3_ISA", bad);
    const CliRun r = run("inspect" + kFp8);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(std::string("DSV3_ISA=") + bad), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(available.back()), std::string::npos) << "names what is available: " << r.err;
  }
  ScopedEnv empty("DSV3_ISA", "");  // empty: the default
  EXPECT_EQ(bench_json("")["isa"], available.front());
}

// bench's report on tiny-fp8: the counts asked for, positive speeds, and the
// bytes per token as inspect's sizes give them.
TEST(Cli, BenchReportsConsistentJson) {
  const auto j = bench_json(" --batch 2");
  ASSERT_TRUE(j.contains("decode_tokens_per_s")) << j.dump();
  const CliRun inspect = run("inspect --json" + kFp8);
  ASSERT_EQ(inspect.code, 0) << inspect.err;
  const auto m = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(j["prompt_tokens"], 8);
  EXPECT_EQ(j["gen_tokens"], 4);
  EXPECT_EQ(j["batch"], 2);
  EXPECT_EQ(j["threads"], test_threads());
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["cache_dtype"], "f32");
  EXPECT_EQ(j["precision"], "exact");
  EXPECT_EQ(j["decode_context_start"], 8);
  for (const char* k : {"prefill_tokens_per_s", "cold_prefill_tokens_per_s", "decode_tokens_per_s", "decode_gb_per_s",
                        "batch_decode_tokens_per_s", "batch_decode_step_ms", "prefill_gflop_per_s"}) {
    ASSERT_TRUE(j[k].is_number()) << k;
    const double v = j[k].get<double>();
    EXPECT_TRUE(std::isfinite(v) && v > 0) << k << " = " << v;
  }
  // skipped probe: no bandwidth, no fractions of it
  EXPECT_EQ(j["membw_gb_per_s"], 0.0);
  EXPECT_EQ(j["decode_fraction_of_membw"], 0.0);
  // cache bytes at the mean decode context (8 + 4/2 positions), f32
  const double cache = 10.0 * m["cache_bytes_per_token_f32"].get<double>();
  EXPECT_DOUBLE_EQ(j["decode_cache_bytes_per_token"].get<double>(), cache);
  EXPECT_DOUBLE_EQ(j["decode_bytes_per_token"].get<double>(),
                   j["decode_weight_bytes_per_token"].get<double>() + cache);
  EXPECT_GT(j["decode_weight_bytes_per_token"].get<double>(), 0);
  const double tps = j["decode_tokens_per_s"].get<double>();
  EXPECT_NEAR(j["decode_gb_per_s"].get<double>(), j["decode_bytes_per_token"].get<double>() * tps / 1e9,
              1e-9 * j["decode_gb_per_s"].get<double>());
}

// synth --preset tiny writes a checkpoint that loads, with the bundled tiny
// model's architecture (the same preset), and generates; a seed fixes the bytes.
TEST(Cli, SynthWritesALoadableCheckpoint) {
  TempDir d;
  const std::string a = d.file("a"), b = d.file("b"), c = d.file("c");
  for (const auto& [dir, seed] : {std::pair{a, 1}, std::pair{b, 1}, std::pair{c, 2}}) {
    const CliRun r = run("synth --preset tiny --seed " + std::to_string(seed) + " --out " + dir);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  const CliRun got = run("inspect --json --model " + a);
  ASSERT_EQ(got.code, 0) << got.err;
  const CliRun want = run("inspect --json" + kTiny);
  ASSERT_EQ(want.code, 0) << want.err;
  const auto g = nlohmann::json::parse(got.out), w = nlohmann::json::parse(want.out);
  for (const char* k : {"layers", "params", "active_params_per_token", "cache_bytes_per_token_f32"})
    EXPECT_EQ(g[k], w[k]) << k;
  // it runs, as text too (the tokenizer came along)
  const CliRun gen = run("generate --model " + a + threads() + " --ids 0,5,9 --max-tokens 3 --json");
  ASSERT_EQ(gen.code, 0) << gen.err;
  const auto ids = nlohmann::json::parse(gen.out)["ids"];
  ASSERT_EQ(ids.size(), 3u);
  for (const auto& id : ids) EXPECT_LT(id.get<int64_t>(), w["vocab_size"].get<int64_t>());
  EXPECT_EQ(run("run --raw --quiet --prompt hi --max-tokens 2 --model " + a + threads()).code, 0);
  // same seed, same bytes; another seed, other weights
  auto bytes_of = [](const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") files[e.path().filename().string()] = read_file(e.path().string());
    return files;
  };
  const auto fa = bytes_of(a);
  EXPECT_FALSE(fa.empty());
  EXPECT_TRUE(fa == bytes_of(b)) << "same seed, different files";
  EXPECT_FALSE(fa == bytes_of(c)) << "another seed, the same files";
  // a preset that does not exist
  const CliRun bad = run("synth --preset huge --out " + d.file("x"));
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(lines(bad.err), 1) << bad.err;
}

TEST(Cli, HelpExitsZero) {
  const CliRun r = run("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("generate"), std::string::npos);
}

TEST(Cli, VersionNamesCommitBuildTypeAndBackends) {
  const CliRun r = run("--version");
  ASSERT_EQ(r.code, 0) << r.err;
  // "dsv3 0.1.0 (commit abc1234, Release; CPU avx2, generic; CUDA off; MPI off)"
  // (read field by field: std::regex trips GCC 12's warnings under ASan)
  const std::string& v = r.out;
  ASSERT_EQ(v.rfind("dsv3 ", 0), 0u) << v;
  const auto field = [&](const std::string& key, const std::string& end) {
    const auto at = v.find(key);
    if (at == std::string::npos) return std::string("<missing>");
    const auto from = at + key.size();
    return v.substr(from, v.find(end, from) - from);
  };
  const std::string commit = field("(commit ", ",");
  EXPECT_TRUE(commit == "unknown" || (commit.size() >= 4 && commit.find_first_not_of("0123456789abcdef") == std::string::npos))
      << v;
  EXPECT_FALSE(field(", ", ";").empty()) << v;  // the build type
  const std::string cpu = field("; CPU ", ";");
  for (const std::string& isa : ops::cpu::available_isas()) EXPECT_NE(cpu.find(isa), std::string::npos) << isa << " in " << v;
  const std::string cuda = field("; CUDA ", ";"), mpi = field("; MPI ", ")");
  EXPECT_TRUE(cuda == "on" || cuda == "off") << v;
  EXPECT_TRUE(mpi == "on" || mpi == "off") << v;
}

}  // namespace
}  // namespace dsv3::test
