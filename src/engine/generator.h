// Text generation for one sequence: the API that the CLI and the server call.
// Streams only final text: complete UTF-8 characters, never text that might
// still turn out to be the start of a stop string.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/completion_text.h"
#include "engine/sampler.h"
#include "engine/session.h"
#include "text/tokenizer.h"

namespace dsv3 {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 256;
  std::vector<std::string> stop;     // stop strings, not included in the output
  std::vector<int32_t> stop_tokens;  // e.g. EOS ids
};

enum class FinishReason { kStop, kLength, kCancelled };
std::string_view finish_reason_name(FinishReason r);  // "stop", "length", "cancelled"

struct GeneratedToken {
  int32_t id;
  float probability;  // under the sampling distribution (1 for greedy)
};

struct GenerationResult {
  std::vector<GeneratedToken> tokens;  // includes a stop token, if one ended it
  std::string text;
  FinishReason finish = FinishReason::kLength;
  int64_t prompt_tokens = 0, reused_prompt_tokens = 0;
  double prefill_seconds = 0.0, decode_seconds = 0.0;
};

// Receives final text as it is produced; returning false cancels.
using TextSink = std::function<bool(std::string_view piece)>;

// Runs req in `session`, reusing the longest prefix of the prompt already in
// its cache. Without a tokenizer there is no text (ids only, no stop
// strings). `cancel` (optional) is polled between tokens.
Result<GenerationResult> generate(Session& session, const text::Tokenizer* tokenizer, const GenerationRequest& req,
                                  const TextSink& sink = nullptr, const std::atomic<bool>* cancel = nullptr);


}  // namespace dsv3
