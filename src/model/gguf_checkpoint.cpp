// Checkpoint::open_gguf: llama.cpp's `deepseek2` tensor names mapped to the
// Hugging Face names the weight binder reads. Routed experts are stored as one
// 3-D tensor per projection; each expert becomes its own view of it, as MLA's
// attn_k_b / attn_v_b (one matrix per head) become one matrix of all heads.
#include <fmt/format.h>

#include <filesystem>
#include <charconv>

#include "model/checkpoint.h"

namespace dsv3 {

namespace fs = std::filesystem;

namespace {

std::optional<DType> dtype_of(const GgmlType& t) {
  switch (t.id) {
    case 0: return DType::F32;
    case 1: return DType::F16;
    case 30: return DType::BF16;
    case 2: return DType::Q4_0;
    case 8: return DType::Q8_0;
    case 10: return DType::Q2_K;
    case 11: return DType::Q3_K;
    case 12: return DType::Q4_K;
    case 13: return DType::Q5_K;
    case 14: return DType::Q6_K;
    case 16: return DType::IQ2_XXS;
    case 17: return DType::IQ2_XS;
    case 18: return DType::IQ3_XXS;
    case 19: return DType::IQ1_S;
    case 20: return DType::IQ4_NL;
    case 21: return DType::IQ3_S;
    case 22: return DType::IQ2_S;
    case 23: return DType::IQ4_XS;
    case 29: return DType::IQ1_M;
    default: return std::nullopt;
  }
}

// blk.N.<suffix> -> model.layers.N.<hf>
struct LayerName {
  const char* gguf;
  const char* hf;
};
constexpr LayerName kLayerNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"attn_q_a.weight", "self_attn.q_a_proj.weight"},
    {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
    {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
    {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
    {"attn_kv_b.weight", "self_attn.kv_b_proj.weight"},
    {"attn_k_b.weight", "self_attn.k_b_proj.weight"},  // [heads, lora, nope]: W_uk^T per head
    {"attn_v_b.weight", "self_attn.v_b_proj.weight"},  // [heads, v_head, lora]: W_uv per head
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
    {"ffn_gate_inp.weight", "mlp.gate.weight"},
    {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
    {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"},
    {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
    {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"},
    {"nextn.eh_proj.weight", "eh_proj.weight"},
    {"nextn.enorm.weight", "enorm.weight"},
    {"nextn.hnorm.weight", "hnorm.weight"},
    {"nextn.embed_tokens.weight", "embed_tokens.weight"},
    {"nextn.shared_head_head.weight", "shared_head.head.weight"},
    {"nextn.shared_head_norm.weight", "shared_head.norm.weight"},
};
constexpr LayerName kExpertNames[] = {
    {"ffn_gate_exps.weight", "gate_proj.weight"},
    {"ffn_up_exps.weight", "up_proj.weight"},
    {"ffn_down_exps.weight", "down_proj.weight"},
};

std::string hf_global_name(const std::string& n) {
  if (n == "token_embd.weight") return "model.embed_tokens.weight";
  if (n == "output_norm.weight") return "model.norm.weight";
  if (n == "output.weight") return "lm_head.weight";
  return n;  // kept under its own name (e.g. rope_freqs): nothing binds it
}

// Adds the views of one GGUF tensor under HF names.
Status add_views(const GgufTensor& t, const std::string* file, std::deque<TensorView>& out) {
  const auto dtype = dtype_of(*t.type);
  if (!dtype)
    return make_error("{}: tensor {}: ggml type {} is not supported (F32, F16, BF16, Q4_0, Q8_0, Q2_K, Q3_K, Q4_K, "
                      "Q5_K, Q6_K, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_NL, IQ4_XS are)",
                      *file, t.name, t.type->name);
  std::vector<int64_t> shape;  // row-major, as Hugging Face writes it
  for (auto it = t.dims.rbegin(); it != t.dims.rend(); ++it) shape.push_back(static_cast<int64_t>(*it));
  TensorView v;
  v.dtype = *dtype;
  v.data = t.data;
  v.nbytes = static_cast<std::size_t>(t.bytes);
  v.file = file;
  // blk.<layer>.<suffix>
  int64_t layer_no = -1;
  std::string suffix;
  if (t.name.rfind("blk.", 0) == 0) {
    const char* b = t.name.data() + 4;
    const char* e = t.name.data() + t.name.size();
    const auto [p, ec] = std::from_chars(b, e, layer_no);
    if (ec == std::errc() && p != b && p < e && *p == '.' && p + 1 < e) suffix.assign(p + 1, e);
    else layer_no = -1;
  }
  if (layer_no < 0) {
    v.name = hf_global_name(t.name);
    v.shape = std::move(shape);
    out.push_back(std::move(v));
    return {};
  }
  const std::string prefix = fmt::format("model.layers.{}.", layer_no);
  for (const auto& e : kExpertNames) {
    if (suffix != e.gguf) continue;
    if (shape.size() != 3) return make_error("{}: tensor {}: expected 3 dimensions, got {}", *file, t.name, shape_str(shape));
    const uint64_t per_expert = t.bytes / static_cast<uint64_t>(shape[0]);
    for (int64_t x = 0; x < shape[0]; ++x) {
      TensorView ev = v;
      ev.name = fmt::format("{}mlp.experts.{}.{}", prefix, x, e.hf);
      ev.shape = {shape[1], shape[2]};
      ev.data = t.data + x * per_expert;
      ev.nbytes = static_cast<std::size_t>(per_expert);
      out.push_back(std::move(ev));
    }
    return {};
  }
  v.name = prefix + suffix;
  for (const auto& e : kLayerNames)
    if (suffix == e.gguf) v.name = prefix + e.hf;
  if (suffix == "attn_k_b.weight" || suffix == "attn_v_b.weight") {
    if (shape.size() != 3) return make_error("{}: tensor {}: expected 3 dimensions, got {}", *file, t.name, shape_str(shape));
    shape = {shape[0] * shape[1], shape[2]};  // the heads' matrices stacked
  }
  v.shape = std::move(shape);
  out.push_back(std::move(v));
  return {};
}

// The files of a split set (NAME-0000i-of-0000N.gguf), or the one file.
Result<std::vector<std::string>> split_set(const std::string& path) {
  // NAME-#####-of-#####.gguf
  const std::string name = fs::path(path).filename().string();
  constexpr std::size_t kTail = std::char_traits<char>::length("-00001-of-00002.gguf");
  const auto digits = [](std::string_view s) {
    int v = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9') return -1;
      v = v * 10 + (ch - '0');
    }
    return v;
  };
  if (name.size() <= kTail) return std::vector<std::string>{path};
  const std::string_view tail = std::string_view(name).substr(name.size() - kTail);
  if (tail[0] != '-' || tail.substr(6, 4) != "-of-" || tail.substr(15) != ".gguf") return std::vector<std::string>{path};
  const int part = digits(tail.substr(1, 5)), count = digits(tail.substr(10, 5));
  if (part < 0 || count < 0) return std::vector<std::string>{path};
  if (count < 1 || part < 1 || part > count)
    return make_error("{}: not a valid split file name (part {} of {})", path, part, count);
  const std::string stem = name.substr(0, name.size() - kTail);
  std::vector<std::string> files;
  for (int i = 1; i <= count; ++i) {
    const fs::path p = fs::path(path).parent_path() / fmt::format("{}-{:05d}-of-{:05d}.gguf", stem, i, count);
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return make_error("{}: split part {} of {} is missing ({})", path, i, count, p.string());
    files.push_back(p.string());
  }
  return files;
}

}  // namespace

Result<Checkpoint> Checkpoint::open_gguf(const std::string& path,
                                         const std::function<void(std::size_t, std::size_t)>& progress) {
  Checkpoint c;
  c.dir_ = path;
  DSV3_ASSIGN_OR_RETURN(std::vector<std::string> files, split_set(path));
  for (const std::string& f : files) {
    DSV3_ASSIGN_OR_RETURN(GgufFile g, GgufFile::open(f));
    c.gguf_files_.push_back(std::make_unique<GgufFile>(std::move(g)));
    c.gguf_paths_.push_back(f);
    if (progress) progress(c.gguf_files_.size(), files.size());
  }
  if (files.size() > 1) {  // llama.cpp's gguf-split records the set in each part
    for (std::size_t i = 0; i < files.size(); ++i) {
      const GgufFile& g = *c.gguf_files_[i];
      const nlohmann::json* count = g.find_key("split.count");
      const nlohmann::json* no = g.find_key("split.no");
      if (count != nullptr && (!count->is_number_unsigned() || count->get<uint64_t>() != files.size()))
        return make_error("{}: key split.count is {}, but the file name says {} parts", files[i], gguf_value_text(*count), files.size());
      if (no != nullptr && (!no->is_number_unsigned() || no->get<uint64_t>() != i))
        return make_error("{}: key split.no is {}, expected {}", files[i], gguf_value_text(*no), i);
    }
  }
  for (std::size_t i = 0; i < c.gguf_files_.size(); ++i)
    for (const GgufTensor& t : c.gguf_files_[i]->tensors())
      DSV3_RETURN_IF_ERROR(add_views(t, &c.gguf_paths_[i], c.gguf_views_));
  for (const TensorView& v : c.gguf_views_) {
    auto [it, inserted] = c.by_name_.emplace(v.name, &v);
    if (!inserted) return make_error("{}: tensor {} appears twice ({} and {})", path, v.name, *it->second->file, *v.file);
  }
  return c;
}

}  // namespace dsv3
