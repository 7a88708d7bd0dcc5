// Prefill at once, prefill in chunks and token-by-token decode share one
// latent cache and must give the same logits (1e-4).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/session.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

std::vector<float> logits_with_chunk(Transformer& t, const std::vector<int32_t>& ids, int64_t chunk) {
  Session s(t, chunk);
  std::vector<float> all;
  Status st = s.append(ids, &all);
  EXPECT_TRUE(st.ok());
  return all;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double w = 0.0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) w = std::max(w, std::fabs(double(a[i]) - b[i]));
  return w;
}

class CacheConsistency : public testing::TestWithParam<std::string> {};

TEST_P(CacheConsistency, ChunksAndDecodeMatchOnePrefill) {
  Transformer& t = *loaded(GetParam()).transformer;
  const auto ref = read_json(reference_dir() + "/goldens/" + GetParam() + "/reference.json");
  std::vector<int32_t> ids = ref["prompts"][3]["ids"].get<std::vector<int32_t>>();
  for (int32_t g : ref["prompts"][3]["greedy"].get<std::vector<int32_t>>()) ids.push_back(g);
  const auto whole = logits_with_chunk(t, ids, 0);
  for (int64_t chunk : {1, 5, 16}) {  // 1 = pure token-by-token decode
    const double d = max_diff(whole, logits_with_chunk(t, ids, chunk));
    EXPECT_LE(d, 1e-4) << "chunk " << chunk;
  }
  // uneven pieces through separate append calls: prefill, decode, prefill again
  Session s(t, 0);
  std::vector<float> got, part;
  std::size_t at = 0;
  for (std::size_t piece : {7u, 1u, 1u, 12u, 3u, 1u}) {
    piece = std::min(piece, ids.size() - at);
    ASSERT_TRUE(s.append(std::span<const int32_t>(ids).subspan(at, piece), &part).ok());
    got.insert(got.end(), part.begin(), part.end());
    at += piece;
  }
  ASSERT_TRUE(s.append(std::span<const int32_t>(ids).subspan(at), &part).ok());
  got.insert(got.end(), part.begin(), part.end());
  EXPECT_LE(max_diff(whole, got), 1e-4);
  EXPECT_EQ(s.position(), static_cast<int64_t>(ids.size()));
}

TEST_P(CacheConsistency, OutOfRangeIdIsAnErrorAndKeepsState) {
  Transformer& t = *loaded(GetParam()).transformer;
  Session s(t, 0);
  const std::vector<int32_t> good{0, 5, 9};
  ASSERT_TRUE(s.append(good).ok());
  const std::vector<float> before = s.last_logits();
  const std::vector<int32_t> bad{3, static_cast<int32_t>(t.config().vocab_size)};
  Status st = s.append(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("out of range"), std::string::npos) << st.error().message;
  EXPECT_EQ(s.position(), 3);
  EXPECT_EQ(s.last_logits(), before);
}

INSTANTIATE_TEST_SUITE_P(Golden, CacheConsistency, testing::Values("tiny", "tiny-fp8"),
                         [](const auto& info) { return info.param == "tiny" ? std::string("tiny") : std::string("tiny_fp8"); });

}  // namespace
}  // namespace dsv3::test
