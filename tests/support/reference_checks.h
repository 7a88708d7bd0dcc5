// Checks of a forward pass — the CPU Transformer on any ISA, or a GPU
// backend — against the reference outputs in tests/data/reference/goldens.
// Written once and shared by the CPU and CUDA golden tests.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/forward_pass.h"
#include "support/golden.h"

namespace dsv3::test {

// goldens/<model>/reference.json and reference.safetensors, read once per process.
const nlohmann::json& reference_json(const std::string& model);
const Golden& reference_golden(const std::string& model);
int reference_prompt_count(const std::string& model);
// Golden prompt k's ids (k wraps around the prompts).
std::vector<int32_t> reference_prompt(const std::string& model, int k);
// A golden prompt's ids followed by its greedy continuation (the rows the
// reference's logits cover).
std::vector<int32_t> prompt_and_greedy(const std::string& model, int prompt);

// Every logits row of the prompt and its greedy continuation, teacher-forced
// in one prefill, within kExactTolerance. Returns the largest error.
double expect_reference_rows(ForwardPass& f, const std::string& model, int prompt);

// The residual stream after every layer of prompt 1 (k = 0: embeddings;
// last: final norm), seen through the forward pass's LayerObserver, within
// kExactTolerance of the reference's: locates a mismatch to one layer.
void expect_reference_layers(ForwardPass& f, const std::string& model);

// The greedy continuation through Session's prefill and decode equals the reference's.
void expect_reference_greedy(ForwardPass& f, const std::string& model, int prompt);

// goldens/long/<model>: past YaRN's original 4096 positions. Every prompt
// row through prefill in chunks of `chunk` (0: all at once), then the 16
// greedy tokens through cached decode, their rows checked too; top-32,
// logsumexp and (tiny-fp8) the last 64 full rows within kExactTolerance.
void expect_long_context(ForwardPass& f, const std::string& model, int64_t chunk);

// A reduced-precision path (an f16 cache, bf16 prefill) over every prompt of
// goldens/<model>, through Sessions that prefill in chunks of `chunk` into a
// `cache` cache: the error of each logits row of prompt + greedy continuation,
// and how many greedy tokens matched the reference before its first near-tie
// (`tie`, see expect_greedy_until_near_tie). The caller holds both to what
// was measured.
struct ReducedPrecision {
  ErrorDistribution rows;
  int64_t greedy_compared = 0;
};
ReducedPrecision measure_reduced_precision(ForwardPass& f, const std::string& model, int64_t chunk, DType cache,
                                           double tie);

}  // namespace dsv3::test
