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
  // Samples of the prompt (1..kMaxSamples): the prompt is computed once and
  // its cache forked; each sample decodes on its own (its own sampler, seeded
  // seed + i when the job has a seed, stop strings and constraint).
  int32_t n = 1;
};
inline constexpr int32_t kMaxSamples = 16;

// check_generation, then what a sampled job adds; names the bad field.
Status check_job(const Job& job, int64_t vocab, bool has_tokenizer);

enum class FinishReason { kStop, kLength, kCancelled };
std::string_view finish_reason_name(FinishReason r);  // "stop", "length", "cancelled"

struct JobUsage {
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_prompt_tokens = 0;
  double queue_seconds = 0, time_to_first_token = 0, total_seconds = 0;  // from submission
};

// One report to a job's sink, about one of its samples. Text is final
// (complete UTF-8, never part of a possible stop string). Each sample's last
// event has done set and nothing of that sample after it; the job is over
// after n such events. The prompt is counted once: in sample 0's usage
// (the others report prompt_tokens 0), so summing over samples gives the job's.
struct JobEvent {
  int32_t sample = 0;                      // 0..n-1
  std::string_view text;
  std::span<const int32_t> tokens;         // ids sampled since the last event (a stop token included)
  std::span<const TokenLogprob> logprobs;  // their logprobs (if asked)
  bool done = false;
  FinishReason finish = FinishReason::kLength;  // when done
  JobUsage usage;                               // when done
  std::string error;                            // when done by an internal error
  std::string_view stop_string;                 // when done by a stop string: which one (else empty)
};
// Called on the engine thread (one event at a time, whatever the sample);
// must not block. Returning false cancels the job, every sample of it (a
// client that went away): their slots are freed, and the sink gets one last
// event per sample (done, kCancelled, no text, the usage so far) for its accounting.
using JobSink = std::function<bool(const JobEvent&)>;

}  // namespace dsv3
