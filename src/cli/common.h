// Pieces shared by the subcommands: flag groups, loading with a progress bar,
// error reporting.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/beam_search.h"
#include "engine/sampler.h"
#include "model/model.h"
#include "model/transformer.h"

namespace CLI {
class App;
class Validator;
}

namespace dsv3::cli {

inline constexpr const char* kVersion = "0.1.0";

// Prints "dsv3: error: ..." on stderr and returns code.
int fail(int code, const Error& e);
int fail(int code, const std::string& message);

// --model's value as given, or for ORG/NAME that is not a path here, its
// snapshot in the hub cache (dsv3 pull): the directory, or a GGUF
// repository's one model file (the first part of a split set).
Result<std::string> resolve_model_path(const std::string& model);
// The same as a CLI11 transform, for every --model option.
CLI::Validator model_path();

struct ModelOptions {
  std::string model;
  int threads = 0;  // 0: all cores
  std::string cache_dtype = "f32";
  std::string precision = "exact";
  std::string device = "cpu";
  std::string head_dtype = "stored";
  std::string parallel = "ep+tp";  // under mpirun: ep or ep+tp (ep+tp measured faster: docs/scale-out.md)
  double rank_timeout = 60.0;   // under mpirun: seconds before a silent rank breaks the job
  DType cache() const { return cache_dtype == "f16" ? DType::F16 : DType::F32; }
  void add_to(CLI::App* cmd);
};

struct SamplingOptions {
  std::optional<float> temperature, top_p, min_p, repetition_penalty, frequency_penalty, presence_penalty;
  std::optional<int32_t> top_k;
  std::optional<uint64_t> seed;
  int64_t max_tokens = 256;
  std::vector<std::string> stop;
  std::optional<int> beams;  // set: beam search (even with 1 beam)
  float length_penalty = 1.0f;
  void add_to(CLI::App* cmd, int64_t default_max_tokens);
  // Flags that contradict each other (beam search is deterministic: it
  // takes no sampling flags), refused before the model loads.
  Status check() const;
  // Flags over the model's generation_config.json defaults over ours.
  SamplingParams params(const std::string& model_dir) const;
};

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<ForwardPass> transformer;  // the CPU Transformer, or the GPU backend
};
// Loads the weights; shows a progress bar when stderr is a terminal.
Result<Loaded> load_model(const ModelOptions& o);

// Runs beam search and prints nothing; shared by generate and run. The
// tokenizer (may be null: no stop strings) gives the hypotheses their text.
Result<std::vector<Hypothesis>> run_beams(Loaded& l, const std::vector<int32_t>& prompt, const SamplingOptions& s,
                                          const text::Tokenizer* tokenizer);

std::string human_bytes(double bytes);

}  // namespace dsv3::cli
