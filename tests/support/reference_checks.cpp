#include "support/reference_checks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

#include "engine/session.h"

namespace dsv3::test {
namespace {

std::string golden_dir(const std::string& model) { return reference_dir() + "/goldens/" + model; }

std::vector<int32_t> ids_of(const nlohmann::json& j, const char* key) { return j[key].get<std::vector<int32_t>>(); }

}  // namespace

const nlohmann::json& reference_json(const std::string& model) {
  static std::mutex mu;
  static std::map<std::string, nlohmann::json> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(model);
  if (it == cache.end()) it = cache.emplace(model, read_json(golden_dir(model) + "/reference.json")).first;
  return it->second;
}

const Golden& reference_golden(const std::string& model) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Golden>> cache;
  std::lock_guard lock(mu);
  auto& g = cache[model];
  if (!g) g = std::make_unique<Golden>(golden_dir(model) + "/reference.safetensors");
  return *g;
}

int reference_prompt_count(const std::string& model) { return static_cast<int>(reference_json(model)["prompts"].size()); }

std::vector<int32_t> reference_prompt(const std::string& model, int k) {
  return ids_of(reference_json(model)["prompts"][k % reference_prompt_count(model)], "ids");
}

double expect_reference_rows(ForwardPass& f, const std::string& model, int prompt) {
  const auto& entry = reference_json(model)["prompts"][prompt];
  std::vector<int32_t> seq = ids_of(entry, "ids");
  for (int32_t t : ids_of(entry, "greedy")) seq.push_back(t);
  const int64_t vocab = f.config().vocab_size;
  const Golden& g = reference_golden(model);
  const std::string p = "p" + std::to_string(prompt) + ".";
  const int64_t prompt_len = static_cast<int64_t>(entry["ids"].size());
  double worst = 0.0;
  int64_t rows = 0;
  for_each_logits_row(f, seq, 0, [&](int64_t row, const float* logits) {
    ++rows;
    worst = std::max(worst, reference_row_error(g, p, row, logits, vocab));
    if (row == prompt_len - 1 && g.has(p + "last_logits")) {  // tiny: one full row besides the top 32
      const float* last = g.f32(p + "last_logits");
      for (int64_t v = 0; v < vocab; ++v) worst = std::max(worst, std::fabs(double(logits[v]) - last[v]));
    }
  });
  EXPECT_EQ(rows, static_cast<int64_t>(seq.size()));
  EXPECT_LE(worst, kExactTolerance) << model << " prompt " << prompt << " on " << f.device();
  std::printf("[ %s prompt %d on %s: max |logit - reference| = %.3g over %lld rows ]\n", model.c_str(), prompt,
              f.device().c_str(), worst, static_cast<long long>(rows));
  return worst;
}

std::vector<int32_t> prompt_and_greedy(const std::string& model, int prompt) {
  const auto& ref = reference_json(model)["prompts"][prompt];
  std::vector<int32_t> seq = ref["ids"].get<std::vector<int32_t>>();
  for (int32_t t : ref["greedy"].get<std::vector<int32_t>>()) seq.push_back(t);
  return seq;
}

void expect_reference_greedy(ForwardPass& f, const std::string& model, int prompt) {
  const auto& entry = reference_json(model)["prompts"][prompt];
  const auto want = ids_of(entry, "greedy");
  Session s(f);
  auto got = generate_greedy(s, ids_of(entry, "ids"), static_cast<int64_t>(want.size()));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, want) << model << " prompt " << prompt << " on " << f.device();
}

void expect_long_context(ForwardPass& f, const std::string& model, int64_t chunk) {
  const std::string dir = reference_dir() + "/goldens/long/" + model;
  const auto ref = read_json(dir + "/reference.json");
  const Golden g(dir + "/reference.safetensors");
  const auto ids = ids_of(ref, "ids");
  const auto greedy = ids_of(ref, "greedy");
  const int64_t rows = ref["rows"].get<int64_t>();
  ASSERT_EQ(rows, static_cast<int64_t>(ids.size() + greedy.size()));
  const int64_t vocab = f.config().vocab_size;
  const bool has_last64 = g.has("last64_logits");
  double worst_top = 0.0, worst_lse = 0.0, worst_full = 0.0;
  int64_t checked = 0;
  auto check_row = [&](int64_t row, const float* logits) {
    ++checked;
    const int32_t* top = g.i32("top32_ids") + row * 32;
    const float* vals = g.f32("top32_logits") + row * 32;
    for (int k = 0; k < 32; ++k) worst_top = std::max(worst_top, std::fabs(double(logits[top[k]]) - vals[k]));
    worst_lse = std::max(worst_lse, std::fabs(logsumexp(logits, vocab) - g.f32("logsumexp")[row]));
    if (has_last64 && row >= rows - 64) {
      const float* full = g.f32("last64_logits") + (row - (rows - 64)) * vocab;
      for (int64_t v = 0; v < vocab; ++v) worst_full = std::max(worst_full, std::fabs(double(logits[v]) - full[v]));
    }
  };
  // prompt rows through prefill
  for_each_logits_row(f, ids, chunk, check_row);
  // greedy continuation through cached decode, checking its rows too
  Session s(f, chunk);
  ASSERT_TRUE(s.append(ids).ok());
  std::vector<int32_t> got;
  for (std::size_t k = 0; k < greedy.size(); ++k) {
    got.push_back(argmax(s.last_logits().data(), vocab));
    ASSERT_TRUE(s.append(std::span<const int32_t>(&greedy[k], 1)).ok());  // follow the reference path
    check_row(static_cast<int64_t>(ids.size() + k), s.last_logits().data());
  }
  EXPECT_EQ(checked, rows);  // every prompt row, and one per decoded token
  EXPECT_EQ(got, greedy) << model << " on " << f.device();
  EXPECT_LE(worst_top, kExactTolerance) << model << " on " << f.device();
  EXPECT_LE(worst_lse, kExactTolerance) << model << " on " << f.device();
  EXPECT_LE(worst_full, kExactTolerance) << model << " on " << f.device();
  std::printf("[ %s chunk %lld on %s: max diff top32 %.3g, logsumexp %.3g, full rows %.3g ]\n", model.c_str(),
              static_cast<long long>(chunk), f.device().c_str(), worst_top, worst_lse, worst_full);
}

ReducedPrecision measure_reduced_precision(ForwardPass& f, const std::string& model, int64_t chunk, DType cache,
                                           double tie) {
  ReducedPrecision m;
  const Golden& g = reference_golden(model);
  const int64_t vocab = f.config().vocab_size;
  for (int p = 0; p < reference_prompt_count(model); ++p) {
    const auto& entry = reference_json(model)["prompts"][p];
    const std::string key = "p" + std::to_string(p) + ".";
    const auto ids = ids_of(entry, "ids");
    const auto greedy = ids_of(entry, "greedy");
    std::vector<int32_t> seq = ids;
    seq.insert(seq.end(), greedy.begin(), greedy.end());
    Session s(f, chunk, cache);
    std::vector<float> logits;
    const Status st = s.append(seq, &logits);
    EXPECT_TRUE(st.ok()) << st.error().message;
    if (logits.size() != seq.size() * vocab) return m;
    for (std::size_t row = 0; row < seq.size(); ++row)
      m.rows.add(reference_row_error(g, key, static_cast<int64_t>(row), logits.data() + row * vocab, vocab));
    Session d(f, chunk, cache);
    auto got = generate_greedy(d, ids, static_cast<int64_t>(greedy.size()));
    EXPECT_TRUE(got.ok());
    if (!got.ok()) return m;
    std::vector<double> gaps;
    for (std::size_t k = 0; k < greedy.size(); ++k)
      gaps.push_back(reference_top2_gap(g, key, static_cast<int64_t>(ids.size() + k) - 1, vocab));
    m.greedy_compared += expect_greedy_until_near_tie(*got, greedy, gaps, tie, model + " prompt " + std::to_string(p));
  }
  return m;
}

void expect_reference_layers(ForwardPass& f, const std::string& model) {
  const auto ids = reference_json(model)["prompts"][1]["ids"].get<std::vector<int32_t>>();
  const int64_t hidden = f.config().hidden_size, layers = f.config().num_hidden_layers;
  const Golden& g = reference_golden(model);
  std::vector<int> seen;
  LayerObserver obs = [&](int64_t k, const float* h, int64_t n) {
    const std::string name = "p1.hidden." + std::to_string(k);
    ASSERT_TRUE(g.has(name)) << name;
    ASSERT_EQ(g.tensor(name).shape, (std::vector<int64_t>{n, hidden}));
    const float* ref = g.f32(name);
    double worst = 0.0;
    for (int64_t i = 0; i < n * hidden; ++i) worst = std::max(worst, std::fabs(double(h[i]) - ref[i]));
    EXPECT_LE(worst, kExactTolerance) << "after layer " << k;
    std::printf("[ %s on %s after layer %lld: max |h - reference| = %.3g ]\n", model.c_str(), f.device().c_str(),
                static_cast<long long>(k), worst);
    seen.push_back(static_cast<int>(k));
  };
  LatentCache cache = f.make_cache();
  std::vector<float> out(ids.size() * hidden);
  const Status st = f.forward(ids, 0, cache, out.data(), &obs);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(layers + 1));
  EXPECT_FALSE(g.has("p1.hidden." + std::to_string(layers + 1)));
}

}  // namespace dsv3::test
