#include "engine/session.h"

#include <algorithm>

#include "engine/token_ids.h"

namespace dsv3 {

Session::Session(ForwardPass& model, int64_t chunk, DType cache_dtype)
    : model_(model),
      chunk_(chunk),
      vocab_(model.config().vocab_size),
      width_(model.config().hidden_size),
      cache_(model.make_cache(0, cache_dtype)),
      last_logits_(static_cast<std::size_t>(vocab_)) {}

Status Session::append(std::span<const int32_t> ids, std::vector<float>* all_logits) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n == 0) return {};
  // all ids checked before any chunk runs, so a bad id leaves the cache as it was
  DSV3_RETURN_IF_ERROR(check_token_ids(ids, vocab_));
  if (all_logits) all_logits->resize(static_cast<std::size_t>(n * vocab_));
  const int64_t step = chunk_ > 0 ? chunk_ : n;
  for (int64_t b = 0; b < n; b += step) {
    const int64_t m = std::min(step, n - b);
    states_.resize(std::max<std::size_t>(states_.size(), static_cast<std::size_t>(m * width_)));
    DSV3_RETURN_IF_ERROR(model_.forward(ids.subspan(b, m), pos_, cache_, states_.data()));
    pos_ += m;
    if (all_logits) {
      DSV3_RETURN_IF_ERROR(model_.logits(states_.data(), m, all_logits->data() + b * vocab_));
    }
    if (b + m < n) continue;
    if (all_logits)  // already computed: the last row of the batch
      std::copy_n(all_logits->data() + (n - 1) * vocab_, vocab_, last_logits_.data());
    else
      DSV3_RETURN_IF_ERROR(model_.logits(states_.data() + (m - 1) * width_, 1, last_logits_.data()));
  }
  return {};
}

int32_t argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return static_cast<int32_t>(best);
}

Result<std::vector<int32_t>> generate_greedy(Session& s, std::span<const int32_t> prompt, int64_t max_tokens) {
  std::vector<int32_t> out;
  DSV3_RETURN_IF_ERROR(s.append(prompt));
  for (int64_t t = 0; t < max_tokens; ++t) {
    const int32_t next = argmax(s.last_logits().data(), s.vocab_size());
    out.push_back(next);
    if (t + 1 < max_tokens) DSV3_RETURN_IF_ERROR(s.append(std::span<const int32_t>(&next, 1)));
  }
  return out;
}

}  // namespace dsv3
