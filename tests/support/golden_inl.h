#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <span>

namespace dsv3::test {

template <class F>
void for_each_logits_row(ForwardPass& t, const std::vector<int32_t>& ids, int64_t chunk, F&& row_fn) {
  const ModelConfig& c = t.config();
  const int64_t n = static_cast<int64_t>(ids.size());
  LatentCache cache = t.make_cache();
  const int64_t step = chunk > 0 ? chunk : n;
  std::vector<float> hidden(static_cast<std::size_t>(step * c.hidden_size));
  constexpr int64_t kRows = 64;  // logits block: bounded memory for a 129k vocabulary
  std::vector<float> logits(static_cast<std::size_t>(kRows * c.vocab_size));
  for (int64_t b = 0; b < n; b += step) {
    const int64_t m = std::min(step, n - b);
    Status st = t.forward(std::span<const int32_t>(ids).subspan(b, m), b, cache, hidden.data());
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (int64_t r = 0; r < m; r += kRows) {
      const int64_t k = std::min(kRows, m - r);
      st = t.logits(hidden.data() + r * c.hidden_size, k, logits.data());
      ASSERT_TRUE(st.ok()) << st.error().message;
      for (int64_t j = 0; j < k; ++j) row_fn(b + r + j, logits.data() + j * c.vocab_size);
    }
  }
}

}  // namespace dsv3::test
