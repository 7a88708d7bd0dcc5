#include "model/gguf_export.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <fnmatch.h>
#include <unordered_set>

#include "base/read_file.h"
#include "base/thread_pool.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/gguf_writer.h"
#include "model/weights.h"
#include "ops/matrix.h"
#include "tensor/ggml_blocks.h"

namespace dsv3 {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

uint32_t ggml_id(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 8;
    case DType::Q2_K: return 10;
    case DType::Q3_K: return 11;
    case DType::Q4_K: return 12;
    case DType::Q5_K: return 13;
    case DType::Q6_K: return 14;
    case DType::BF16: return 30;
    default: return 0;
  }
}

// llama.cpp's llama_ftype for general.file_type
uint32_t file_type(const std::string& recipe) {
  static const std::map<std::string, uint32_t> k{{"f32", 0},     {"f16", 1},     {"q4_0", 2},    {"q8_0", 7},
                                                 {"q2_k", 10},   {"q3_k_m", 12}, {"q4_k_m", 15}, {"q5_k_m", 17},
                                                 {"q6_k", 18},   {"bf16", 32}};
  return k.at(recipe);
}

// ggml's rule for "more bits" layers in its _M mixes: the first and last
// eighth, and every third layer between
bool more_bits(int64_t layer, int64_t layers) {
  return layer >= 0 && (layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2);
}

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// A row source: row r of the tensor as f32.
struct Source {
  int64_t rows = 0, cols = 0;
  std::function<void(int64_t r, float* out)> row;
  DType stored = DType::F32;  // what the checkpoint holds (for --keep)
};

struct Planned {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order
  Source src;
  int64_t layer = -1;
  bool matrix = true;  // 1-D tensors stay f32
  DType type = DType::F32;
};

Source matrix_source(const ops::Matrix& m) {
  return Source{m.rows, m.cols, [m](int64_t r, float* out) { ops::dequantize_row(m, r, out); }, m.dtype};
}
Source vector_source(const std::vector<float>& v) {
  return Source{1, static_cast<int64_t>(v.size()),
                [&v](int64_t, float* out) { std::copy(v.begin(), v.end(), out); }, DType::F32};
}
// Several matrices of one shape, stacked (routed experts).
Source stacked_source(std::vector<ops::Matrix> ms) {
  const int64_t rows = ms.front().rows;
  Source s{rows * static_cast<int64_t>(ms.size()), ms.front().cols, nullptr, ms.front().dtype};
  s.row = [ms = std::move(ms), rows](int64_t r, float* out) { ops::dequantize_row(ms[r / rows], r % rows, out); };
  return s;
}

// The tokenizer as GGUF lists it: every id's string and type, the merges.
struct Vocab {
  std::vector<std::string> tokens, merges;
  std::vector<int32_t> types;
  std::string chat_template;
};

Result<Vocab> read_vocab(const std::string& dir, int64_t vocab_size) {
  const std::string path = (fs::path(dir) / "tokenizer.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec))
    return make_error("{}: no tokenizer.json (a GGUF carries its tokenizer: name one with --tokenizer-from DIR)", dir);
  DSV3_ASSIGN_OR_RETURN(std::string text, read_regular_file(path));
  const json t = json::parse(text, nullptr, false);
  if (t.is_discarded() || !t.is_object()) return make_error("{}: not valid JSON", path);
  Vocab v;
  v.tokens.resize(static_cast<std::size_t>(vocab_size));
  v.types.assign(static_cast<std::size_t>(vocab_size), 5);  // unused until named
  try {
    for (const auto& [tok, id] : t.at("model").at("vocab").items()) {
      const int64_t i = id.get<int64_t>();
      if (i < 0 || i >= vocab_size) continue;  // past the model's vocabulary: never produced
      v.tokens[i] = tok;
      v.types[i] = 1;
    }
    for (const auto& a : t.value("added_tokens", json::array())) {
      const int64_t i = a.at("id").get<int64_t>();
      if (i < 0 || i >= vocab_size) continue;
      v.tokens[i] = a.at("content").get<std::string>();
      v.types[i] = a.value("special", false) ? 3 : 4;
    }
    // a model with fewer ids than the tokenizer (test checkpoints) keeps the
    // merges whose parts and result are its tokens
    std::unordered_set<std::string> kept(v.tokens.begin(), v.tokens.end());
    for (const auto& m : t.at("model").at("merges")) {
      std::string a, b;
      if (m.is_array()) {
        a = m.at(0).get<std::string>();
        b = m.at(1).get<std::string>();
      } else {
        const std::string s = m.get<std::string>();
        const auto sp = s.find(' ', 1);
        if (sp == std::string::npos) return make_error("{}: merge \"{}\" is not two tokens", path, s);
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      }
      if (kept.count(a) && kept.count(b) && kept.count(a + b)) v.merges.push_back(a + " " + b);
    }
  } catch (const json::exception& e) {
    return make_error("{}: unexpected tokenizer.json structure: {}", path, e.what());
  }
  for (std::size_t i = 0; i < v.tokens.size(); ++i)
    if (v.types[i] == 5) v.tokens[i] = fmt::format("[PAD{}]", i);
  const fs::path cfg = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(cfg, ec)) {
    DSV3_ASSIGN_OR_RETURN(std::string ctext, read_regular_file(cfg.string()));
    const json c = json::parse(ctext, nullptr, false);
    if (c.is_object() && c.contains("chat_template")) {
      const json& ct = c["chat_template"];
      if (ct.is_string()) v.chat_template = ct.get<std::string>();
      else if (ct.is_array())
        for (const auto& e : ct)
          if (e.is_object() && e.value("name", "") == "default") v.chat_template = e.value("template", "");
    }
  }
  return v;
}

void write_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name, const std::string& recipe,
                    const Vocab& v) {
  const std::string p = "deepseek2.";
  w.add_string("general.architecture", "deepseek2");
  w.add_string("general.name", name);
  w.add_u32("general.file_type", file_type(recipe));
  w.add_u32("general.quantization_version", 2);
  w.add_u32(p + "block_count", static_cast<uint32_t>(c.num_hidden_layers));
  w.add_u32(p + "context_length", static_cast<uint32_t>(c.max_position_embeddings > 0 ? c.max_position_embeddings : 4096));
  w.add_u32(p + "embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.add_u32(p + "feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.add_u32(p + "attention.head_count", static_cast<uint32_t>(c.num_attention_heads));
  w.add_u32(p + "attention.head_count_kv", 1);  // MLA: one latent shared by the heads
  w.add_f32(p + "rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_f32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.add_u32(p + "expert_used_count", static_cast<uint32_t>(c.num_experts_per_tok));
  w.add_u32(p + "expert_count", static_cast<uint32_t>(c.n_routed_experts));
  w.add_u32(p + "expert_group_count", static_cast<uint32_t>(c.n_group));
  w.add_u32(p + "expert_group_used_count", static_cast<uint32_t>(c.topk_group));
  w.add_u32(p + "expert_gating_func", 2);  // sigmoid
  w.add_u32(p + "leading_dense_block_count", static_cast<uint32_t>(c.first_k_dense_replace));
  w.add_u32(p + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.add_u32(p + "attention.q_lora_rank", static_cast<uint32_t>(c.q_lora_rank));
  w.add_u32(p + "attention.kv_lora_rank", static_cast<uint32_t>(c.kv_lora_rank));
  w.add_u32(p + "attention.key_length", static_cast<uint32_t>(c.kv_lora_rank + c.qk_rope_head_dim));
  w.add_u32(p + "attention.value_length", static_cast<uint32_t>(c.kv_lora_rank));
  w.add_u32(p + "attention.key_length_mla", static_cast<uint32_t>(c.qk_head_dim()));
  w.add_u32(p + "attention.value_length_mla", static_cast<uint32_t>(c.v_head_dim));
  w.add_u32(p + "expert_feed_forward_length", static_cast<uint32_t>(c.moe_intermediate_size));
  w.add_u32(p + "expert_shared_count", static_cast<uint32_t>(c.n_shared_experts));
  w.add_f32(p + "expert_weights_scale", static_cast<float>(c.routed_scaling_factor));
  w.add_bool(p + "expert_weights_norm", c.norm_topk_prob);
  w.add_u32(p + "rope.dimension_count", static_cast<uint32_t>(c.qk_rope_head_dim));
  if (c.yarn) {
    w.add_string(p + "rope.scaling.type", "yarn");
    w.add_f32(p + "rope.scaling.factor", static_cast<float>(c.yarn->factor));
    w.add_u32(p + "rope.scaling.original_context_length", static_cast<uint32_t>(c.yarn->original_max_positions));
    w.add_f32(p + "rope.scaling.yarn_beta_fast", static_cast<float>(c.yarn->beta_fast));
    w.add_f32(p + "rope.scaling.yarn_beta_slow", static_cast<float>(c.yarn->beta_slow));
    if (c.yarn->mscale_all_dim != 0.0)  // llama.cpp divides by 0.1 on load
      w.add_f32(p + "rope.scaling.yarn_log_multiplier", static_cast<float>(0.1 * c.yarn->mscale_all_dim));
  }
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "deepseek-v3");
  w.add_strings("tokenizer.ggml.tokens", v.tokens);
  w.add_i32s("tokenizer.ggml.token_type", v.types);
  w.add_strings("tokenizer.ggml.merges", v.merges);
  if (c.bos_token_id >= 0) w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_token_id));
  if (!c.eos_token_ids.empty()) {
    w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_token_ids.front()));
    w.add_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(c.eos_token_ids.front()));
  }
  w.add_bool("tokenizer.ggml.add_bos_token", c.bos_token_id >= 0);
  w.add_bool("tokenizer.ggml.add_eos_token", false);
  if (!v.chat_template.empty()) w.add_string("tokenizer.chat_template", v.chat_template);
}

// Every tensor of the main model (MTP layers are left out, as llama.cpp does).
std::vector<Planned> plan(const Weights& w, const ModelConfig& c) {
  std::vector<Planned> p;
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  const auto mat = [&](const std::string& name, const ops::Matrix& m, int64_t layer) {
    p.push_back({name, {u(m.cols), u(m.rows)}, matrix_source(m), layer, true});
  };
  const auto vec = [&](const std::string& name, const std::vector<float>& v, int64_t layer) {
    p.push_back({name, {u(static_cast<int64_t>(v.size()))}, vector_source(v), layer, false});
  };
  mat("token_embd.weight", w.embed, -1);
  const int64_t nh = c.num_attention_heads, nope = c.qk_nope_head_dim, vd = c.v_head_dim, lora = c.kv_lora_rank;
  for (int64_t i = 0; i < static_cast<int64_t>(w.layers.size()); ++i) {
    const LayerWeights& l = w.layers[static_cast<std::size_t>(i)];
    const std::string b = fmt::format("blk.{}.", i);
    vec(b + "attn_norm.weight", l.attn_norm, i);
    vec(b + "ffn_norm.weight", l.mlp_norm, i);
    const AttentionWeights& a = l.attn;
    if (a.q_lora) {
      mat(b + "attn_q_a.weight", a.q_a, i);
      vec(b + "attn_q_a_norm.weight", a.q_a_norm, i);
      mat(b + "attn_q_b.weight", a.q_b, i);
    } else {
      mat(b + "attn_q.weight", a.q, i);
    }
    mat(b + "attn_kv_a_mqa.weight", a.kv_a, i);
    vec(b + "attn_kv_a_norm.weight", a.kv_a_norm, i);
    if (a.split_kv_b) {
      mat(b + "attn_k_b.weight", a.k_b, i);
      mat(b + "attn_v_b.weight", a.v_b, i);
      p[p.size() - 2].dims = {u(nope), u(lora), u(nh)};
      p.back().dims = {u(lora), u(vd), u(nh)};
    } else {
      // k_b: each head's W_uk transposed, [heads][lora][nope]; v_b: its W_uv rows
      const ops::Matrix kv = a.kv_b;
      Source k{nh * lora, nope, nullptr, kv.dtype};
      k.row = [kv, nope, vd, lora](int64_t r, float* out) {
        thread_local std::vector<float> head;  // the head's nope rows, decoded once per head
        thread_local const void* cached = nullptr;
        thread_local int64_t cached_head = -1;
        const int64_t h = r / lora, c = r % lora;
        if (cached != kv.data || cached_head != h) {
          head.resize(static_cast<std::size_t>(nope * lora));
          for (int64_t d = 0; d < nope; ++d) ops::dequantize_row(kv, h * (nope + vd) + d, head.data() + d * lora);
          cached = kv.data;
          cached_head = h;
        }
        for (int64_t d = 0; d < nope; ++d) out[d] = head[static_cast<std::size_t>(d * lora + c)];
      };
      p.push_back({b + "attn_k_b.weight", {u(nope), u(lora), u(nh)}, std::move(k), i, true});
      Source v{nh * vd, lora, [kv, nope, vd](int64_t r, float* out) {
                 ops::dequantize_row(kv, (r / vd) * (nope + vd) + nope + r % vd, out);
               }, kv.dtype};
      p.push_back({b + "attn_v_b.weight", {u(lora), u(vd), u(nh)}, std::move(v), i, true});
    }
    mat(b + "attn_output.weight", a.o, i);
    if (!l.is_moe) {
      mat(b + "ffn_gate.weight", l.mlp.gate, i);
      mat(b + "ffn_up.weight", l.mlp.up, i);
      mat(b + "ffn_down.weight", l.mlp.down, i);
      continue;
    }
    const MoeWeights& m = l.moe;
    mat(b + "ffn_gate_inp.weight", m.router, i);
    if (!m.router_bias.empty()) vec(b + "exp_probs_b.bias", m.router_bias, i);
    const auto stack = [&](const std::string& name, auto pick) {
      std::vector<ops::Matrix> ms;
      for (const auto& e : m.experts) ms.push_back(pick(e));
      const ops::Matrix& f = ms.front();
      const uint64_t n = ms.size();
      p.push_back({name, {u(f.cols), u(f.rows), n}, stacked_source(std::move(ms)), i, true});
    };
    stack(b + "ffn_gate_exps.weight", [](const SwiGluWeights& e) { return e.gate; });
    stack(b + "ffn_up_exps.weight", [](const SwiGluWeights& e) { return e.up; });
    stack(b + "ffn_down_exps.weight", [](const SwiGluWeights& e) { return e.down; });
    if (m.has_shared) {
      mat(b + "ffn_gate_shexp.weight", m.shared.gate, i);
      mat(b + "ffn_up_shexp.weight", m.shared.up, i);
      mat(b + "ffn_down_shexp.weight", m.shared.down, i);
    }
  }
  vec("output_norm.weight", w.final_norm, -1);
  mat("output.weight", w.lm_head, -1);
  return p;
}

// Row r of the source converted to `type` into out (dtype_row_bytes bytes).
void convert_row(const float* row, int64_t cols, DType type, uint8_t* out) {
  switch (type) {
    case DType::F32:
      std::memcpy(out, row, static_cast<std::size_t>(cols) * 4);
      return;
    case DType::F16:
    case DType::BF16:
      for (int64_t j = 0; j < cols; ++j) {
        const uint16_t h = type == DType::F16 ? f32_to_f16(row[j]) : f32_to_bf16(row[j]);
        std::memcpy(out + 2 * j, &h, 2);
      }
      return;
    default:
      quantize_blocks(type, row, out, cols);
  }
}

// Every weight as a shape without data (planning from config.json alone).
Weights shaped_weights(const ModelConfig& c) {
  const auto m = [](int64_t rows, int64_t cols) {
    ops::Matrix x;
    x.dtype = DType::BF16;
    x.rows = rows;
    x.cols = cols;
    return x;
  };
  const auto mlp = [&](int64_t width) { return SwiGluWeights{m(width, c.hidden_size), m(width, c.hidden_size), m(c.hidden_size, width)}; };
  const int64_t h = c.hidden_size, nh = c.num_attention_heads;
  Weights w;
  w.embed = m(c.vocab_size, h);
  w.lm_head = m(c.vocab_size, h);
  w.final_norm.resize(static_cast<std::size_t>(h));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights l;
    l.attn_norm.resize(static_cast<std::size_t>(h));
    l.mlp_norm = l.attn_norm;
    AttentionWeights& a = l.attn;
    a.q_lora = c.q_lora_rank > 0;
    if (a.q_lora) {
      a.q_a = m(c.q_lora_rank, h);
      a.q_a_norm.resize(static_cast<std::size_t>(c.q_lora_rank));
      a.q_b = m(nh * c.qk_head_dim(), c.q_lora_rank);
    } else {
      a.q = m(nh * c.qk_head_dim(), h);
    }
    a.kv_a = m(c.cache_width(), h);
    a.kv_a_norm.resize(static_cast<std::size_t>(c.kv_lora_rank));
    a.split_kv_b = true;
    a.k_b = m(nh * c.kv_lora_rank, c.qk_nope_head_dim);
    a.v_b = m(nh * c.v_head_dim, c.kv_lora_rank);
    a.o = m(h, nh * c.v_head_dim);
    l.is_moe = c.is_moe_layer(i);
    if (!l.is_moe) {
      l.mlp = mlp(c.intermediate_size);
    } else {
      l.moe.router = m(c.n_routed_experts, h);
      l.moe.router_bias.resize(static_cast<std::size_t>(c.n_routed_experts));
      l.moe.experts.assign(static_cast<std::size_t>(c.n_routed_experts), mlp(c.moe_intermediate_size));
      l.moe.has_shared = c.n_shared_experts > 0;
      if (l.moe.has_shared) l.moe.shared = mlp(c.moe_intermediate_size * c.n_shared_experts);
    }
    w.layers.push_back(std::move(l));
  }
  return w;
}

// Each planned tensor's type: norms, biases and the router f32, --keep
// matches as stored, the recipe for the rest.
Status assign_types(std::vector<Planned>& tensors, const QuantizeOptions& o, int64_t layers) {
  for (const std::string& k : o.keep)
    if (k.empty()) return make_error("--keep: an empty pattern");
  for (Planned& t : tensors) {
    const bool kept = std::any_of(o.keep.begin(), o.keep.end(),
                                  [&](const std::string& k) { return fnmatch(k.c_str(), t.name.c_str(), 0) == 0; });
    if (!t.matrix || t.name.find("ffn_gate_inp") != std::string::npos) {
      t.type = DType::F32;  // as llama.cpp keeps them: routing stays exact
    } else if (kept) {  // as stored where GGUF has the type; FP8 widened to f32 (exact)
      t.type = t.src.stored == DType::BF16 || t.src.stored == DType::F16 ? t.src.stored : DType::F32;
    } else {
      DSV3_ASSIGN_OR_RETURN(t.type, recipe_type(o.type, t.name, t.layer, layers, t.src.cols));
    }
  }
  return {};
}

Status check_type(const std::string& type) {
  const auto& types = quantize_types();
  if (std::find(types.begin(), types.end(), type) == types.end())
    return make_error("--type \"{}\" is not one of: {}", type, fmt::join(types, ", "));
  return {};
}

}  // namespace

Result<QuantizePlan> plan_quantization(const ModelConfig& c, const QuantizeOptions& o) {
  DSV3_RETURN_IF_ERROR(check_type(o.type));
  const Weights w = shaped_weights(c);
  std::vector<Planned> tensors = plan(w, c);
  DSV3_RETURN_IF_ERROR(assign_types(tensors, o, c.num_hidden_layers));
  QuantizePlan p;
  for (const Planned& t : tensors) {
    QuantizePlan::PerType& e = p.by_type[std::string(dtype_name(t.type))];
    const int64_t params = t.src.rows * t.src.cols, bytes = t.src.rows * dtype_row_bytes(t.type, t.src.cols);
    e.tensors += 1;
    e.params += params;
    e.bytes += bytes;
    p.params += params;
    p.bytes += bytes;
    if (t.name == "token_embd.weight") p.active_bytes += dtype_row_bytes(t.type, t.src.cols);
    else if (t.name.find("_exps.") != std::string::npos) p.active_bytes += bytes / c.n_routed_experts * c.num_experts_per_tok;
    else p.active_bytes += bytes;
  }
  return p;
}

const std::vector<std::string>& quantize_types() {
  static const std::vector<std::string> k{"f32", "f16", "bf16", "q8_0", "q4_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k"};
  return k;
}

Result<DType> recipe_type(const std::string& recipe, const std::string& name, int64_t layer, int64_t layers,
                          int64_t cols) {
  DType t;
  const bool down = name.find("ffn_down") != std::string::npos, v_b = ends_with(name, "attn_v_b.weight");
  const bool output = name == "output.weight";
  if (recipe == "f32") t = DType::F32;
  else if (recipe == "f16") t = DType::F16;
  else if (recipe == "bf16") t = DType::BF16;
  else if (recipe == "q8_0") t = DType::Q8_0;
  else if (recipe == "q4_0") t = output ? DType::Q6_K : DType::Q4_0;
  else if (recipe == "q6_k") t = DType::Q6_K;
  else if (recipe == "q5_k_m") t = output || ((down || v_b) && more_bits(layer, layers)) ? DType::Q6_K : DType::Q5_K;
  else if (recipe == "q4_k_m") t = output || ((down || v_b) && more_bits(layer, layers)) ? DType::Q6_K : DType::Q4_K;
  else if (recipe == "q3_k_m")
    t = output ? DType::Q6_K : v_b ? (layer < 2 ? DType::Q5_K : DType::Q4_K)
        : down ? (layer < layers / 16 + 1 ? DType::Q5_K : DType::Q4_K) : ends_with(name, "attn_output.weight") ? DType::Q4_K
               : DType::Q3_K;
  else if (recipe == "q2_k")  // the routed experts carry the bits: everything else keeps more
    t = output ? DType::Q6_K
        : name.find("_exps.") != std::string::npos ? (down ? DType::Q3_K : DType::Q2_K)
                                                   : DType::Q4_K;
  else
    return make_error("unknown quantization type \"{}\"", recipe);
  // rows that are no whole number of 256-value blocks take a 32-value
  // format; rows of no 32-value block f16
  if (dtype_block(t) == 256 && cols % 256 != 0) t = t == DType::Q5_K || t == DType::Q6_K ? DType::Q8_0 : DType::Q4_0;
  if (is_block_format(t) && cols % dtype_block(t) != 0) t = DType::F16;
  return t;
}

Status quantize_to_gguf(const std::string& model_dir, const std::string& out, const QuantizeOptions& o,
                        const std::function<void(std::size_t, std::size_t, const std::string&)>& progress) {
  DSV3_RETURN_IF_ERROR(check_type(o.type));
  std::vector<Planned> none;
  DSV3_RETURN_IF_ERROR(assign_types(none, o, 0));  // --keep checked before any file is read
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec))
    return make_error("{}: not a checkpoint directory (quantize reads Hugging Face safetensors)", model_dir);
  DSV3_ASSIGN_OR_RETURN(ModelConfig cfg, load_config((fs::path(model_dir) / "config.json").string()));
  DSV3_ASSIGN_OR_RETURN(Checkpoint ckpt, Checkpoint::open(model_dir));
  DSV3_ASSIGN_OR_RETURN(Weights w, bind_weights(ckpt, cfg));
  DSV3_ASSIGN_OR_RETURN(Vocab vocab, read_vocab(o.tokenizer_dir.empty() ? model_dir : o.tokenizer_dir, cfg.vocab_size));

  std::vector<Planned> tensors = plan(w, cfg);
  DSV3_RETURN_IF_ERROR(assign_types(tensors, o, cfg.num_hidden_layers));
  const std::string tmp = out + ".partial";  // renamed when complete: no half-written file under the name
  DSV3_ASSIGN_OR_RETURN(GgufWriter writer, GgufWriter::create(tmp));
  const std::string name = o.name.empty() ? fs::path(model_dir).lexically_normal().filename().string() : o.name;
  write_metadata(writer, cfg, name.empty() ? "model" : name, o.type, vocab);
  for (const Planned& t : tensors)
    writer.add_tensor(t.name, t.dims, ggml_id(t.type), static_cast<uint64_t>(t.src.rows * dtype_row_bytes(t.type, t.src.cols)));
  DSV3_RETURN_IF_ERROR(writer.write_header());
  // rows converted in parallel (the K-quant searches are the slow part),
  // written in order a chunk at a time: memory is bounded by the chunk
  ThreadPool pool(o.threads);
  std::vector<std::vector<float>> rows(static_cast<std::size_t>(pool.size()));
  std::vector<uint8_t> buf;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Planned& t = tensors[i];
    const int64_t rb = dtype_row_bytes(t.type, t.src.cols);
    const int64_t chunk = std::max<int64_t>(1, (16 << 20) / std::max<int64_t>(rb, 1));  // about 16 MiB per write
    for (auto& r : rows) r.resize(static_cast<std::size_t>(t.src.cols));
    buf.resize(static_cast<std::size_t>(std::min(chunk, t.src.rows) * rb));
    for (int64_t r0 = 0; r0 < t.src.rows; r0 += chunk) {
      const int64_t n = std::min(chunk, t.src.rows - r0);
      pool.parallel_for(n, [&](int64_t b, int64_t e, int thread) {
        float* row = rows[static_cast<std::size_t>(thread)].data();
        for (int64_t r = b; r < e; ++r) {
          t.src.row(r0 + r, row);
          convert_row(row, t.src.cols, t.type, buf.data() + r * rb);
        }
      });
      DSV3_RETURN_IF_ERROR(writer.append(buf.data(), static_cast<std::size_t>(n * rb)));
    }
    if (progress) progress(i + 1, tensors.size(), fmt::format("{} {}", t.name, dtype_name(t.type)));
  }
  DSV3_RETURN_IF_ERROR(writer.close());
  fs::rename(tmp, out, ec);
  if (ec) return make_error("{}: cannot rename to {}: {}", tmp, out, ec.message());
  return {};
}

}  // namespace dsv3
