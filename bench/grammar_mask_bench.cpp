// The cost of a constrained generation's token mask, per token: p50 and p99
// over generations of five JSON schemas on DeepSeek-V3's vocabulary (the
// tiny model's tokenizer), one thread. Tokens are drawn at random among the
// allowed ones, as a model with random weights draws them.
//   bench_grammar_mask [runs per schema (default 20)] [tokens per run (default 256)]
// SLOW=1 prints the states whose mask took over 2 ms.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "grammar/constrained_text.h"
#include "grammar/json_schema.h"
#include "text/tokenizer.h"

using namespace dsv3;

namespace {

const std::pair<const char*, const char*> kSchemas[] = {
    {"json_object", R"({"type":"object","additionalProperties":true})"},
    {"person", R"({"type":"object","properties":{"name":{"type":"string","maxLength":40},"age":{"type":"integer","minimum":0,"maximum":150},
        "email":{"type":"string","format":"email"}},"required":["name","age","email"],"additionalProperties":false})"},
    {"list", R"({"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},"tags":{"type":"array","items":{"enum":["red","green","blue"]},"maxItems":4}},
        "required":["id","tags"],"additionalProperties":false},"maxItems":20})"},
    {"tree", R"({"$ref":"#/$defs/n","$defs":{"n":{"type":"object","properties":{"v":{"type":"number"},"kids":{"type":"array","items":{"$ref":"#/$defs/n"},"maxItems":3}},
        "required":["v","kids"],"additionalProperties":false}}})"},
    {"free_text", R"({"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"},"date":{"type":"string","format":"date"}},
        "required":["title","body","date"],"additionalProperties":false})"},
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  const int64_t budget = argc > 2 ? std::atoll(argv[2]) : 256;
  auto tok = text::Tokenizer::load(std::string(DSV3_SOURCE_DIR) + "/tests/data/reference/models/tiny/tokenizer.json");
  if (!tok) {
    std::fprintf(stderr, "%s\n", tok.error().message.c_str());
    return 1;
  }
  std::vector<std::string> tokens;
  std::vector<int32_t> excluded = {1};
  for (int32_t id = 0; id < (*tok)->vocab_size(); ++id) {
    tokens.push_back((*tok)->token_bytes(id));
    if ((*tok)->is_special(id)) excluded.push_back(id);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto vocab = std::make_shared<grammar::TokenVocabulary>(tokens, excluded);
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("vocabulary: %lld tokens, trie %zu nodes (others %zu), built in %.0f ms\n", static_cast<long long>(vocab->vocab_size()),
              vocab->all().size(), vocab->not_plain().size(), build_ms);
  std::printf("%-12s %8s %10s %10s %10s %10s\n", "schema", "tokens", "p50 us", "p99 us", "mean us", "max us");
  std::vector<double> all;
  for (const auto& [name, schema] : kSchemas) {
    auto g = grammar::schema_grammar(nlohmann::json::parse(schema));
    if (!g) {
      std::fprintf(stderr, "%s: %s\n", name, g.error().message.c_str());
      return 1;
    }
    auto shared = std::make_shared<const grammar::Grammar>(std::move(g).value());
    std::vector<double> us;
    std::vector<uint64_t> bits(vocab->words());
    std::vector<int32_t> ids;
    ids.reserve(static_cast<std::size_t>(vocab->vocab_size()));
    for (int run = 0; run < runs; ++run) {
      grammar::ConstrainedText ct(shared, vocab);
      std::mt19937_64 rng(static_cast<uint64_t>(run) + 1);
      for (int64_t used = 0; used < budget; ++used) {
        const auto a = std::chrono::steady_clock::now();
        const bool may_end = ct.fill(bits, budget - used);
        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
        if (std::getenv("SLOW") && us.back() > 2000) std::printf("slow %.0f us: %s\n", us.back(), ct.describe().c_str());
        ids.clear();
        for (std::size_t w = 0; w < bits.size(); ++w)
          for (uint64_t b = bits[w]; b; b &= b - 1) ids.push_back(static_cast<int32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(b))));
        if (may_end && (ids.empty() || rng() % 8 == 0)) break;
        if (ids.empty()) break;
        ct.accept(ids[rng() % ids.size()]);
      }
    }
    double sum = 0;
    for (double u : us) sum += u;
    std::printf("%-12s %8zu %10.1f %10.1f %10.1f %10.1f\n", name, us.size(), percentile(us, 0.5), percentile(us, 0.99),
                sum / static_cast<double>(us.size()), percentile(us, 1.0));
    all.insert(all.end(), us.begin(), us.end());
  }
  std::printf("%-12s %8zu %10.1f %10.1f\n", "all", all.size(), percentile(all, 0.5), percentile(all, 0.99));
  return 0;
}
