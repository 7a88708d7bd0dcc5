// Tokenizer encode throughput on 1 MB of mixed English, C++ code and CJK
// text, one thread. Run: build/bench/bench_tokenizer
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "text/tokenizer.h"

namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// About a third each of prose, code and CJK, cut to exactly 1 MiB.
std::string corpus() {
  const std::filesystem::path root = DSV3_SOURCE_DIR;
  std::string code, prose;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root / "src"))
    if (e.is_regular_file()) code += read(e.path());
  prose = read(root / "README.md") + read(root / "tests/data/reference/README.md");
  // CJK: sentences assembled from common characters with punctuation
  const char* cjk[] = {"深度", "求索", "模型", "专家", "混合", "参数", "训练", "推理", "注意力", "缓存", "日本語",
                       "テキスト", "カタカナ", "ひらがな", "한국어", "문장", "입니다", "人工智能", "公司", "计算"};
  std::mt19937 rng(7);
  std::string han;
  while (han.size() < 350000) {
    for (int i = 0; i < 12; ++i) han += cjk[rng() % 20];
    han += (rng() % 3 == 0) ? "，" : "。";
  }
  std::string out;
  while (out.size() < (1u << 20)) {
    out += prose.substr(0, 20000);
    out += code.substr(out.size() % (code.size() > 30000 ? code.size() - 30000 : 1), 30000);
    out += han.substr(out.size() % 300000, 30000);
  }
  out.resize(1u << 20);
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();  // whole characters
  if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
  return out;
}

const dsv3::text::Tokenizer& tokenizer() {
  static auto t = std::move(dsv3::text::Tokenizer::load(std::string(DSV3_SOURCE_DIR) +
                                                        "/tests/data/reference/models/tiny/tokenizer.json"))
                      .value();
  return *t;
}

void BM_EncodeMixed1MB(benchmark::State& state) {
  const std::string text = corpus();
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tokenizer().encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}
BENCHMARK(BM_EncodeMixed1MB)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The same with the per-piece memo emptied before every run.
void BM_EncodeMixed1MBCold(benchmark::State& state) {
  const std::string text = corpus();
  for (auto _ : state) {
    state.PauseTiming();
    tokenizer().clear_cache();
    state.ResumeTiming();
    benchmark::DoNotOptimize(tokenizer().encode(text));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeMixed1MBCold)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_Decode(benchmark::State& state) {
  const auto ids = tokenizer().encode(corpus());
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer().decode(ids));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
