// Long context past YaRN's original 4096 positions: every row's top-32 logits
// and logsumexp, tiny-fp8's last 64 full rows, and the 16 greedy tokens, with
// the prompt fed at once and in chunks of 512.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/session.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

struct LongCase {
  std::string model;
  int64_t chunk;
};

void PrintTo(const LongCase& c, std::ostream* os) { *os << c.model << " chunk " << c.chunk; }

class LongContext : public testing::TestWithParam<LongCase> {};

TEST_P(LongContext, MatchesReference) {
  const LongCase& c = GetParam();
  const std::string dir = reference_dir() + "/goldens/long/" + c.model;
  const auto ref = read_json(dir + "/reference.json");
  const Golden g(dir + "/reference.safetensors");
  const auto ids = ref["ids"].get<std::vector<int32_t>>();
  const auto greedy = ref["greedy"].get<std::vector<int32_t>>();
  const int64_t rows = ref["rows"].get<int64_t>();
  ASSERT_EQ(rows, static_cast<int64_t>(ids.size() + greedy.size()));
  Transformer& t = *loaded(c.model).transformer;
  const int64_t vocab = t.config().vocab_size;
  const bool has_last64 = g.has("last64_logits");
  double worst_top = 0.0, worst_lse = 0.0, worst_full = 0.0;
  auto check_row = [&](int64_t row, const float* logits) {
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
  for_each_logits_row(t, ids, c.chunk, check_row);
  // greedy continuation through cached decode, checking its rows too
  Session s(t, c.chunk);
  ASSERT_TRUE(s.append(ids).ok());
  std::vector<int32_t> got;
  for (std::size_t k = 0; k < greedy.size(); ++k) {
    const int32_t next = argmax(s.last_logits().data(), vocab);
    got.push_back(next);
    ASSERT_TRUE(s.append(std::span<const int32_t>(&greedy[k], 1)).ok());  // follow the reference path
    check_row(static_cast<int64_t>(ids.size() + k), s.last_logits().data());
  }
  EXPECT_EQ(got, greedy);
  EXPECT_LE(worst_top, 1e-3);
  EXPECT_LE(worst_lse, 1e-3);
  EXPECT_LE(worst_full, 1e-3);
  std::printf("[ %s chunk %lld: max diff top32 %.3g, logsumexp %.3g, full rows %.3g ]\n", c.model.c_str(),
              static_cast<long long>(c.chunk), worst_top, worst_lse, worst_full);
}

INSTANTIATE_TEST_SUITE_P(Golden, LongContext,
                         testing::Values(LongCase{"tiny", 0}, LongCase{"tiny", 512}, LongCase{"tiny-fp8", 0},
                                         LongCase{"tiny-fp8", 512}),
                         [](const auto& info) {
                           std::string m = info.param.model == "tiny" ? "tiny" : "tiny_fp8";
                           return m + (info.param.chunk ? "_chunks512" : "_whole");
                         });

}  // namespace
}  // namespace dsv3::test
