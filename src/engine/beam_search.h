// Beam search: keeps the N best partial continuations by total log
// probability. Beams fork from their parent's session (the latent cache is
// copied once per fork, or moved when a parent has a single child), so every
// prefix is computed once.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/job.h"
#include "engine/logprobs.h"
#include "model/forward_pass.h"
#include "text/tokenizer.h"

namespace dsv3 {

// The stop conditions are a sampled job's: a beam that picks a stop token,
// or whose text comes to contain a stop string (that needs the tokenizer,
// which also fills Hypothesis::text), is finished.
struct BeamSearchParams : StopConditions {
  BeamSearchParams() { max_tokens = 32; }
  int beams = 4;
  float length_penalty = 1.0f;  // final score = logprob / length^penalty
  const text::Tokenizer* tokenizer = nullptr;
};

struct Hypothesis {
  std::vector<int32_t> tokens;  // without a stop token; with the token that completed a stop string
  double logprob = 0.0;         // sum over tokens (including the stop token)
  double score = 0.0;           // length-normalised
  bool finished = false;        // ended by a stop token or a stop string
  std::string text;             // with a tokenizer: the decoded tokens, cut before a stop string
};

// Returns the hypotheses best first (at most params.beams of them).
Result<std::vector<Hypothesis>> beam_search(ForwardPass& model, std::span<const int32_t> prompt,
                                            const BeamSearchParams& params);

}  // namespace dsv3
