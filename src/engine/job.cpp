#include "engine/job.h"

#include <algorithm>
#include <array>

#include "engine/token_ids.h"

namespace dsv3 {

bool StopConditions::is_stop_token(int32_t id) const {
  return std::find(stop_tokens.begin(), stop_tokens.end(), id) != stop_tokens.end();
}

Status check_generation(std::span<const int32_t> prompt, const StopConditions& stops, int64_t vocab,
                        bool has_tokenizer) {
  if (prompt.empty()) return make_error("the prompt is empty");
  DSV3_RETURN_IF_ERROR(check_token_ids(prompt, vocab));
  if (stops.max_tokens < 0) return make_error("max_tokens must not be negative");
  if (!has_tokenizer && !stops.stop.empty()) return make_error("stop strings need a tokenizer");
  return {};
}

Status check_job(const Job& job, int64_t vocab, bool has_tokenizer) {
  DSV3_RETURN_IF_ERROR(check_generation(job.prompt, job, vocab, has_tokenizer));
  if (job.top_logprobs > 20) return make_error("top_logprobs must be at most 20");
  if (job.n < 1 || job.n > kMaxSamples) return make_error("n must be between 1 and {}, got {}", kMaxSamples, job.n);
  return job.sampling.validate(vocab);
}

std::string_view finish_reason_name(FinishReason r) {
  static constexpr std::array<std::string_view, 3> kNames{"stop", "length", "cancelled"};  // in enum order
  const auto i = static_cast<std::size_t>(r);
  return i < kNames.size() ? kNames[i] : "?";
}

}  // namespace dsv3
