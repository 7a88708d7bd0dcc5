// Log-probabilities under the model's distribution: the log-softmax of the
// raw logits (before sampling's bias, penalties and temperature). The server
// reports them per token; beam search ranks continuations by them.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace dsv3 {

struct TokenLogprob {
  int32_t id;
  float logprob;
  std::vector<std::pair<int32_t, float>> top;  // best first
};

// log(sum(exp(logits))), in double.
double log_sum_exp(const float* logits, int64_t n);

// log softmax of a logits row into out.
void log_softmax(const float* logits, int64_t n, std::vector<float>& out);

// The log-probability of `token` and of the best `top` tokens.
TokenLogprob token_logprob(const float* logits, int64_t vocab, int32_t token, int32_t top);

}  // namespace dsv3
