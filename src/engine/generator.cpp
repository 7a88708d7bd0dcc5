#include "engine/generator.h"

#include <algorithm>
#include <chrono>

#include "text/utf8.h"

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

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
  for (const auto& s : stops_) longest_ = std::max(longest_, s.size());
}

std::size_t StopMatcher::find(std::string_view text, std::size_t previous_size) const {
  if (stops_.empty()) return std::string_view::npos;
  // a match must end in the new part, so it starts at most longest-1 bytes before it
  const std::size_t from = previous_size >= longest_ ? previous_size - longest_ + 1 : 0;
  std::size_t best = std::string_view::npos;
  for (const auto& s : stops_) {
    const std::size_t at = text.find(s, from);
    if (at < best) best = at;
  }
  return best;
}

std::size_t StopMatcher::held_back(std::string_view text) const {
  std::size_t hold = 0;
  for (const auto& s : stops_)
    for (std::size_t k = std::min(s.size() - 1, text.size()); k > hold; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  return hold;
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
  StopMatcher stops(req.stop);
  text::Utf8Stream utf8;
  std::size_t emitted = 0;
  bool cancelled = false;
  auto emit_until = [&](std::size_t end) {
    if (end > emitted && sink && !sink(std::string_view(r.text).substr(emitted, end - emitted))) cancelled = true;
    emitted = std::max(emitted, end);
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
    const std::size_t before = r.text.size();
    if (tokenizer) utf8.push(tokenizer->token_bytes(tok), r.text);
    if (const std::size_t at = stops.find(r.text, before); at != std::string_view::npos) {
      r.text.resize(at);
      emit_until(at);
      r.finish = FinishReason::kStop;
      break;
    }
    emit_until(r.text.size() - stops.held_back(r.text));
    if (cancelled) {
      r.finish = FinishReason::kCancelled;
      break;
    }
    if (i + 1 < req.max_tokens) DSV3_RETURN_IF_ERROR(session.append(std::span<const int32_t>(&tok, 1)));
  }
  if (r.finish != FinishReason::kStop || utf8.pending()) {
    utf8.finish(r.text);
    if (const std::size_t at = stops.find(r.text, emitted); at != std::string_view::npos) {
      r.text.resize(at);
      r.finish = FinishReason::kStop;
    }
  }
  if (r.finish != FinishReason::kCancelled) emit_until(r.text.size());
  r.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return r;
}

}  // namespace dsv3
