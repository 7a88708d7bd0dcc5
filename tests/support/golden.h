// Access to the reference data in tests/data/reference (a verbatim copy of
// ../shared/reference): checkpoints, golden logits and hidden states.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "model/transformer.h"
#include "text/tokenizer.h"

namespace dsv3::test {

// The exact paths (f32 arithmetic on the stored weights: CPU on every ISA,
// CUDA) against the reference logits and hidden states. Every row measures
// <= 2.3e-5 (long contexts included); 1e-4 leaves a 4x margin and still
// catches a wrong scale, an off-by-one position or a dropped term.
inline constexpr double kExactTolerance = 1e-4;

std::string data_dir();                     // tests/data
std::string reference_dir();                // tests/data/reference
std::string model_dir(const std::string& name);
nlohmann::json read_json(const std::string& path);

// A golden safetensors file with typed accessors.
class Golden {
 public:
  explicit Golden(const std::string& path);
  const TensorView& tensor(const std::string& name) const;
  const float* f32(const std::string& name) const;
  const int32_t* i32(const std::string& name) const;
  bool has(const std::string& name) const { return file_.find(name) != nullptr; }

 private:
  SafetensorsFile file_;
};

// A model loaded once per process, shared by the tests that read it.
struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Transformer> transformer;
};
LoadedModel& loaded(const std::string& name);
// The bundled tiny model's tokenizer (DeepSeek-V3's), loaded once per process.
const text::Tokenizer& tiny_tokenizer();

// Runs ids through a fresh cache in chunks of `chunk` (0: all at once) and
// calls row_fn(row, logits) for every position, computing logits in blocks.
template <class F>
void for_each_logits_row(ForwardPass& t, const std::vector<int32_t>& ids, int64_t chunk, F&& row_fn);

// logsumexp of a row, in double.
double logsumexp(const float* v, int64_t n);

// Largest |logit - reference| of one row: the full row where the golden has
// `<prefix>logits`, else its top 32 (`<prefix>top32_ids/_logits`) and the
// row's logsumexp (`<prefix>logsumexp`), which depends on every logit.
double reference_row_error(const Golden& g, const std::string& prefix, int64_t row, const float* logits, int64_t vocab);

// The reference's margin between its best and second logit in `row`, from
// the full rows (`<prefix>logits`) where the golden has them, else from the
// sorted top 32 (`<prefix>top32_logits`).
double reference_top2_gap(const Golden& g, const std::string& prefix, int64_t row, int64_t vocab);

// Greedy tokens of a reduced-precision path against the reference, up to
// the first near-tie: token k is compared while the reference's top-2 margin
// at every step so far is at least `tie` (twice the path's logit error: below
// that the path may legitimately pick the other token, and after it the
// sequences are no longer comparable). gaps[k] is the margin at step k.
// EXPECTs each compared token equal; returns how many it compared, which the
// caller asserts against a stated minimum so the check cannot silently vanish.
int64_t expect_greedy_until_near_tie(const std::vector<int32_t>& got, const std::vector<int32_t>& want,
                                     const std::vector<double>& gaps, double tie, const std::string& what);

// Per-row errors of a reduced-precision path, summarised as a distribution:
// such paths are held to their measured median, p90, p99 and share of rows
// within a bound, not to one all-or-nothing maximum.
class ErrorDistribution {
 public:
  void add(double e) { v_.push_back(e); sorted_ = false; }
  std::size_t size() const { return v_.size(); }
  double quantile(double q);  // nearest rank, q in [0, 1]
  double max() { return quantile(1.0); }
  double min() { return quantile(0.0); }
  int64_t within(double bound) const;
  std::string summary();  // "n rows, median .., p90 .., p99 .., max .."

 private:
  std::vector<double> v_;
  bool sorted_ = false;
};

}  // namespace dsv3::test

#include "support/golden_inl.h"
