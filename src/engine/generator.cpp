#include "engine/generator.h"

#include <algorithm>
#include <chrono>

namespace dsv3 {

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
  }
  return "?";
}

Result<GenerationResult> generate(Session& session, const text::Tokenizer* tokenizer, const GenerationRequest& req,
                                  const TextSink& sink, const std::atomic<bool>* cancel) {
  using clock = std::chrono::steady_clock;
  if (req.prompt.empty()) return make_error("the prompt is empty");
  if (req.max_tokens < 0) return make_error("max_tokens must not be negative");
  DSV3_RETURN_IF_ERROR(req.sampling.validate(session.vocab_size()));
  if (!tokenizer && !req.stop.empty()) return make_error("stop strings need a tokenizer");
  GenerationResult r;
  r.prompt_tokens = static_cast<int64_t>(req.prompt.size());
  const auto t0 = clock::now();
  r.reused_prompt_tokens = session.reuse_prefix(req.prompt);
  DSV3_RETURN_IF_ERROR(session.append(std::span<const int32_t>(req.prompt).subspan(r.reused_prompt_tokens)));
  const auto t1 = clock::now();
  r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();

  Sampler sampler(req.sampling, session.vocab_size());
  sampler.observe_prompt(req.prompt);
  CompletionText text(req.stop);
  bool cancelled = false;
  auto emit = [&] {
    const std::string_view piece = text.take();
    if (!piece.empty() && sink && !sink(piece)) cancelled = true;
  };
  r.finish = FinishReason::kLength;
  for (int64_t i = 0; i < req.max_tokens; ++i) {
    if (cancel && cancel->load(std::memory_order_relaxed)) {
      r.finish = FinishReason::kCancelled;
      break;
    }
    const int32_t tok = sampler.sample(session.last_logits().data());
    r.tokens.push_back({tok, sampler.last_probability(tok)});
    if (std::find(req.stop_tokens.begin(), req.stop_tokens.end(), tok) != req.stop_tokens.end()) {
      r.finish = FinishReason::kStop;
      break;
    }
    if (tokenizer && text.push(tokenizer->token_bytes(tok))) {
      r.finish = FinishReason::kStop;
      break;
    }
    emit();
    if (cancelled) {
      r.finish = FinishReason::kCancelled;
      break;
    }
    if (i + 1 < req.max_tokens) DSV3_RETURN_IF_ERROR(session.append(std::span<const int32_t>(&tok, 1)));
  }
  if (r.finish != FinishReason::kCancelled) {
    if (text.finish()) r.finish = FinishReason::kStop;
    emit();
  }
  r.text = text.text();
  r.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return r;
}

}  // namespace dsv3
