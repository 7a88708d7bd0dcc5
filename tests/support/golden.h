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
void for_each_logits_row(Transformer& t, const std::vector<int32_t>& ids, int64_t chunk, F&& row_fn);

// logsumexp of a row, in double.
double logsumexp(const float* v, int64_t n);

}  // namespace dsv3::test

#include "support/golden_inl.h"
