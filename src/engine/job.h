// A generation as the engine takes it and what it reports back, whoever runs
// it: the server's batches, the CLI's single sequence, and (for when to stop)
// beam search.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/logprobs.h"
#include "engine/sampler.h"
#include "engine/token_constraint.h"

namespace dsv3 {

// When a completion ends, besides a full context.
struct StopConditions {
  int64_t max_tokens = 256;
  std::vector<std::string> stop;     // stop strings, not included in the text
  std::vector<int32_t> stop_tokens;  // e.g. EOS ids: counted, but no text

  bool is_stop_token(int32_t id) const;
};

// What every generation needs: a prompt of ids in the vocabulary,
// max_tokens >= 0, and a tokenizer if there are stop strings.
Status check_generation(std::span<const int32_t> prompt, const StopConditions& stops, int64_t vocab,
                        bool has_tokenizer);

struct Job : StopConditions {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int32_t top_logprobs = -1;  // < 0: no logprobs; else that many alternatives per token (<= 20)
  ConstraintFactory constraint;  // null: any token may come
};

// check_generation, then what a sampled job adds; names the bad field.
Status check_job(const Job& job, int64_t vocab, bool has_tokenizer);

enum class FinishReason { kStop, kLength, kCancelled };
std::string_view finish_reason_name(FinishReason r);  // "stop", "length", "cancelled"

struct JobUsage {
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_prompt_tokens = 0;
  double queue_seconds = 0, time_to_first_token = 0, total_seconds = 0;  // from submission
};

// One report to a job's sink. Text is final (complete UTF-8, never part of a
// possible stop string). The last event has done set and nothing after it.
struct JobEvent {
  std::string_view text;
  std::span<const int32_t> tokens;         // ids sampled since the last event (a stop token included)
  std::span<const TokenLogprob> logprobs;  // their logprobs (if asked)
  bool done = false;
  FinishReason finish = FinishReason::kLength;  // when done
  JobUsage usage;                               // when done
  std::string error;                            // when done by an internal error
  std::string_view stop_string;                 // when done by a stop string: which one (else empty)
};
// Called on the engine thread; must not block. Returning false cancels the job
// (a client that went away): its slot is freed, and the sink gets one last
// event (done, kCancelled, no text, the usage so far) for its accounting.
using JobSink = std::function<bool(const JobEvent&)>;

}  // namespace dsv3
