// `dsv3 quantize`: a Hugging Face checkpoint (bf16, f32 or FP8 with block
// scales) written as a GGUF file that llama.cpp loads as `deepseek2` (MLA
// with attn_k_b / attn_v_b, routed experts stacked), its matrices converted
// to the recipe's ggml types one row at a time, so memory stays bounded.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "tensor/dtype.h"

namespace dsv3 {

struct QuantizeOptions {
  // f32, f16, bf16, q8_0, q4_0, q6_k, q5_k_m, q4_k_m, q3_k_m, q2_k
  std::string type = "q8_0";
  std::vector<std::string> keep;  // shell patterns over GGUF tensor names kept unquantized ("blk.*.attn_*")
  std::string name;               // general.name (default: the directory's name)
  std::string tokenizer_dir;      // where tokenizer.json is (default: the checkpoint's directory)
  int threads = 0;                // rows converted in parallel (0: all cores)
};

// The recipe names quantize() accepts.
const std::vector<std::string>& quantize_types();

// The ggml type the recipe gives a matrix (GGUF name, its layer or -1, the
// model's layer count, its row length).
Result<DType> recipe_type(const std::string& recipe, const std::string& gguf_name, int64_t layer, int64_t layers,
                          int64_t cols);

// What a recipe makes of a model, from its config alone: tensors, parameters
// and bytes per ggml type, and the whole file's tensor bytes.
struct QuantizePlan {
  struct PerType {
    int64_t tensors = 0, params = 0, bytes = 0;
  };
  std::map<std::string, PerType> by_type;
  int64_t params = 0, bytes = 0;
  int64_t active_bytes = 0;  // read per decoded token: experts_per_tok of the routed experts, one embedding row
};
Result<QuantizePlan> plan_quantization(const ModelConfig& c, const QuantizeOptions& o);

// progress(done, total) after each tensor is written.
Status quantize_to_gguf(const std::string& model_dir, const std::string& out, const QuantizeOptions& o,
                        const std::function<void(std::size_t, std::size_t, const std::string&)>& progress = nullptr);

}  // namespace dsv3
