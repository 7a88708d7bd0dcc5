// One generation from token to token, whatever runs it (the server's
// batches, the CLI's single sequence): the sampler primed with the prompt,
// the text with its stop strings, stop tokens, the token budget, logprobs,
// usage and timing, and the events to the job's sink. The caller feeds the
// model and hands each row of logits over; this decides what it means.
#pragma once
#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/completion_text.h"
#include "engine/job.h"
#include "engine/sampler.h"
#include "text/tokenizer.h"

namespace dsv3 {

class Sequence {
 public:
  using Clock = std::chrono::steady_clock;
  // cached: prompt tokens its cache already holds; room: tokens the context
  // has left after the prompt. tokenizer may be null: ids only, no text.
  Sequence(Job job, JobSink sink, Clock::time_point submitted, const text::Tokenizer* tokenizer, int64_t vocab,
           int64_t cached, int64_t room);

  const Job& job() const { return job_; }
  const JobUsage& usage() const { return usage_; }
  // Tokens to generate at most: max_tokens, within the context.
  int64_t max_tokens() const { return max_tokens_; }

  // Draws the next token from a row of raw logits (and its logprobs, if
  // asked). Touches only this sequence, so sequences may sample in parallel.
  void sample(const float* logits);
  int32_t sampled() const { return sampled_; }
  // The drawn token joins the completion. Returns why that ended it (a stop
  // token, a stop string, the budget; kCancelled if the sink, told of new
  // text, said so); nullopt: feed sampled() to the model and go on.
  std::optional<FinishReason> take_sampled();
  // Sends the last event (the rest of the text unless cancelled, the usage).
  // Nothing may be called after it.
  void finish(FinishReason why, std::string error);

 private:
  // An event with this text and the ids (and logprobs) since the last one.
  JobEvent event(std::string_view text) const;

  Job job_;
  JobSink sink_;
  Clock::time_point submitted_;
  const text::Tokenizer* tokenizer_;
  int64_t vocab_;
  int64_t max_tokens_;
  Sampler sampler_;
  std::unique_ptr<TokenConstraint> constraint_;  // from job.constraint
  std::vector<uint64_t> allowed_;                 // its mask, one bit per token
  CompletionText text_;
  int32_t sampled_ = -1;
  // since the last event
  std::vector<int32_t> tokens_;
  std::vector<TokenLogprob> logprobs_;
  JobUsage usage_;
};

}  // namespace dsv3
