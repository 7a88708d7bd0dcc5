#include "engine/sequence.h"

#include <algorithm>

namespace dsv3 {

namespace {
double seconds_since(Sequence::Clock::time_point t) {
  return std::chrono::duration<double>(Sequence::Clock::now() - t).count();
}
}  // namespace

Sequence::Sequence(Job job, JobSink sink, Clock::time_point submitted, const text::Tokenizer* tokenizer, int64_t vocab,
                   int64_t cached, int64_t room, int32_t sample)
    : job_(std::move(job)),
      sink_(std::move(sink)),
      submitted_(submitted),
      tokenizer_(tokenizer),
      vocab_(vocab),
      max_tokens_(std::min(job_.max_tokens, room)),
      sample_(sample),
      sampler_(job_.sampling, vocab),
      text_(job_.stop) {
  sampler_.observe_prompt(job_.prompt);
  if (job_.constraint) {
    constraint_ = job_.constraint();
    allowed_.assign(static_cast<std::size_t>((vocab + 63) / 64), 0);
  }
  if (sample_ == 0) {
    usage_.prompt_tokens = static_cast<int64_t>(job_.prompt.size());
    usage_.cached_prompt_tokens = cached;
  }
  usage_.queue_seconds = seconds_since(submitted_);
}

JobEvent Sequence::event(std::string_view text) const {
  JobEvent e;
  e.sample = sample_;
  e.text = text;
  e.tokens = tokens_;
  e.logprobs = logprobs_;
  return e;
}

void Sequence::sample(const float* logits) {
  const uint64_t* allowed = nullptr;
  if (constraint_) {
    std::fill(allowed_.begin(), allowed_.end(), 0);
    if (constraint_->allowed(allowed_, max_tokens_ - usage_.completion_tokens)) allowed = allowed_.data();
  }
  sampled_ = sampler_.sample(logits, allowed);
  if (job_.top_logprobs >= 0) logprobs_.push_back(token_logprob(logits, vocab_, sampled_, job_.top_logprobs));
}

std::optional<FinishReason> Sequence::take_sampled() {
  const int32_t tok = sampled_;
  tokens_.push_back(tok);
  if (constraint_) constraint_->accept(tok);
  if (usage_.completion_tokens++ == 0) usage_.time_to_first_token = seconds_since(submitted_);
  if (job_.is_stop_token(tok)) return FinishReason::kStop;
  if (tokenizer_ && text_.push(tokenizer_->token_bytes(tok))) return FinishReason::kStop;
  if (constraint_ && constraint_->complete()) return FinishReason::kStop;  // nothing may follow: no need to draw the end
  if (usage_.completion_tokens >= max_tokens_) return FinishReason::kLength;
  const std::string_view piece = text_.take();
  if (piece.empty() && logprobs_.empty()) return std::nullopt;  // the ids go with the next event
  const bool keep = sink_(event(piece));
  tokens_.clear();
  logprobs_.clear();
  // the client went away: the last event accounts for its tokens
  if (!keep) return FinishReason::kCancelled;
  return std::nullopt;
}

void Sequence::finish(FinishReason why, std::string error) {
  if (why != FinishReason::kCancelled && text_.finish()) why = FinishReason::kStop;
  usage_.total_seconds = seconds_since(submitted_);
  JobEvent e = event(why != FinishReason::kCancelled ? text_.take() : std::string_view());
  e.done = true;
  e.finish = why;
  e.usage = usage_;
  e.error = std::move(error);
  if (why == FinishReason::kStop) e.stop_string = text_.stopped_by();
  sink_(e);
}

}  // namespace dsv3
