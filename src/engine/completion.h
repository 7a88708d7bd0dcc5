// A job run to its end for a caller that waits for the answer (the CLI, and
// tests): the scheduler generates on its engine thread, while the caller's
// thread receives the text as it becomes final and may cancel by a flag (set
// from a signal handler, say).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/job.h"
#include "engine/scheduler.h"

namespace dsv3 {

struct Completion {
  std::vector<int32_t> tokens;  // as generated: with a stop token, if one ended it
  std::string text;             // everything streamed
  FinishReason finish = FinishReason::kLength;
  JobUsage usage;
  // From the usage: the prompt's time (to the first token) and the rest.
  double prefill_seconds() const;
  double decode_seconds() const;
};

// Receives final text on the caller's thread, in order.
using TextSink = std::function<void(std::string_view piece)>;

// Submits job and waits for its last event. An invalid job or a failed step
// is an error. Setting *cancel ends it as kCancelled.
Result<Completion> complete(Scheduler& scheduler, Job job, const TextSink& on_text = nullptr,
                            const std::atomic<bool>* cancel = nullptr);

// A scheduler for one caller and one sequence at a time: its one slot keeps
// its cache between jobs (a chat's next turn reuses the conversation so far),
// the context is bounded only by memory, and prompts run in chunks of 512.
SchedulerOptions one_sequence_options(DType cache_dtype = DType::F32);

}  // namespace dsv3
