#include "benchkit/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "model/safetensors.h"
#include "tensor/dtype.h"

namespace dsv3 {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json base_config() {
  return {{"architectures", {"DeepseekV3ForCausalLM"}},
          {"model_type", "deepseek_v3"},
          {"attention_bias", false},
          {"bos_token_id", 0},
          {"eos_token_id", 1},
          {"hidden_act", "silu"},
          {"moe_layer_freq", 1},
          {"norm_topk_prob", true},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 10000},
          {"scoring_func", "sigmoid"},
          {"topk_method", "noaux_tc"},
          {"tie_word_embeddings", false},
          {"torch_dtype", "bfloat16"},
          {"num_nextn_predict_layers", 0},
          {"max_position_embeddings", 163840},
          {"routed_scaling_factor", 2.5},
          {"rope_scaling",
           {{"beta_fast", 32}, {"beta_slow", 1}, {"factor", 40}, {"mscale", 1.0}, {"mscale_all_dim", 1.0},
            {"original_max_position_embeddings", 4096}, {"type", "yarn"}}}};
}

// What each tensor holds, which decides its random distribution.
enum class Kind { kEmbed, kLinear, kNorm, kRouter, kBias, kHead };
struct Planned {
  std::string name;
  std::vector<int64_t> shape;
  Kind kind;
  bool fp8;  // stored F8_E4M3 with a following weight_scale_inv
};

std::vector<Planned> plan(const json& c, bool fp8) {
  const int64_t h = c["hidden_size"], nh = c["num_attention_heads"], layers = c["num_hidden_layers"];
  const int64_t qlr = c["q_lora_rank"], kvlr = c["kv_lora_rank"], nope = c["qk_nope_head_dim"],
                rope = c["qk_rope_head_dim"], vd = c["v_head_dim"], vocab = c["vocab_size"];
  const int64_t dense = c["first_k_dense_replace"], experts = c["n_routed_experts"], shared = c["n_shared_experts"];
  const int64_t inter = c["intermediate_size"], moe_inter = c["moe_intermediate_size"];
  std::vector<Planned> p;
  auto lin = [&](const std::string& n, int64_t out, int64_t in) { p.push_back({n, {out, in}, Kind::kLinear, fp8}); };
  auto mlp = [&](const std::string& pre, int64_t w) {
    lin(pre + "gate_proj.weight", w, h);
    lin(pre + "up_proj.weight", w, h);
    lin(pre + "down_proj.weight", h, w);
  };
  p.push_back({"model.embed_tokens.weight", {vocab, h}, Kind::kEmbed, false});
  for (int64_t i = 0; i < layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    p.push_back({l + "input_layernorm.weight", {h}, Kind::kNorm, false});
    p.push_back({l + "post_attention_layernorm.weight", {h}, Kind::kNorm, false});
    const std::string a = l + "self_attn.";
    lin(a + "q_a_proj.weight", qlr, h);
    p.push_back({a + "q_a_layernorm.weight", {qlr}, Kind::kNorm, false});
    lin(a + "q_b_proj.weight", nh * (nope + rope), qlr);
    lin(a + "kv_a_proj_with_mqa.weight", kvlr + rope, h);
    p.push_back({a + "kv_a_layernorm.weight", {kvlr}, Kind::kNorm, false});
    lin(a + "kv_b_proj.weight", nh * (nope + vd), kvlr);
    lin(a + "o_proj.weight", h, nh * vd);
    const std::string m = l + "mlp.";
    if (i < dense) {
      mlp(m, inter);
      continue;
    }
    p.push_back({m + "gate.weight", {experts, h}, Kind::kRouter, false});
    p.push_back({m + "gate.e_score_correction_bias", {experts}, Kind::kBias, false});
    for (int64_t e = 0; e < experts; ++e) mlp(m + "experts." + std::to_string(e) + ".", moe_inter);
    if (shared > 0) mlp(m + "shared_experts.", moe_inter * shared);
  }
  p.push_back({"model.norm.weight", {h}, Kind::kNorm, false});
  p.push_back({"lm_head.weight", {vocab, h}, Kind::kHead, false});
  return p;
}

// xorshift64*: a fast, seedable stream of uniforms per tensor.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
    if (s_ == 0) s_ = 1;
  }
  float uniform() {  // [-1, 1)
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    const uint64_t r = s_ * 0x2545F4914F6CDD1Dull;
    return static_cast<float>(static_cast<int64_t>(r) >> 40) * (1.0f / 8388608.0f);
  }

 private:
  uint64_t s_;
};

uint64_t name_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Fills rows of a tensor with values of the right scale (uniform, so the
// standard deviation is a / sqrt(3)).
void fill(const Planned& t, Rng& rng, float* out, int64_t rows) {
  const int64_t cols = t.shape.size() > 1 ? t.shape[1] : t.shape[0];
  const int64_t n = rows * cols;
  const float sqrt3 = std::sqrt(3.0f);
  switch (t.kind) {
    case Kind::kNorm:
      for (int64_t i = 0; i < n; ++i) out[i] = 1.0f + 0.4f * rng.uniform();
      return;
    case Kind::kBias:
      for (int64_t i = 0; i < n; ++i) out[i] = 0.04f * rng.uniform();
      return;
    case Kind::kEmbed:
      for (int64_t i = 0; i < n; ++i) out[i] = sqrt3 * rng.uniform();
      return;
    case Kind::kHead: {
      const float a = 2.0f * sqrt3 / std::sqrt(static_cast<float>(cols));
      for (int64_t i = 0; i < n; ++i) out[i] = a * rng.uniform();
      return;
    }
    case Kind::kLinear:
    case Kind::kRouter: {
      const float a = sqrt3 / std::sqrt(static_cast<float>(cols));
      for (int64_t i = 0; i < n; ++i) out[i] = a * rng.uniform();
      return;
    }
  }
}

struct Spec {
  TensorSpec spec;
  int planned;     // index into the plan
  bool is_scale;   // the weight_scale_inv of the preceding tensor
};

Status write_tensor(const Planned& t, bool is_scale, uint64_t seed, SafetensorsStreamWriter& w,
                    std::vector<float>& scales_out, std::vector<float>& buf, std::vector<uint8_t>& bytes,
                    const std::function<void(uint64_t)>& advance) {
  if (is_scale) {  // computed while the weight was written
    DSV3_RETURN_IF_ERROR(w.append(scales_out.data(), scales_out.size() * sizeof(float)));
    advance(scales_out.size() * sizeof(float));
    return {};
  }
  Rng rng(seed ^ name_hash(t.name));
  const int64_t rows = t.shape[0], cols = t.shape.size() > 1 ? t.shape[1] : 1;
  const int64_t row_len = t.shape.size() > 1 ? cols : rows;
  if (t.fp8) {
    constexpr int64_t B = 128;
    const int64_t sc = (cols + B - 1) / B;
    scales_out.assign(static_cast<std::size_t>(((rows + B - 1) / B) * sc), 0.0f);
    for (int64_t r0 = 0; r0 < rows; r0 += B) {
      const int64_t nr = std::min(B, rows - r0);
      buf.resize(static_cast<std::size_t>(nr * cols));
      fill(t, rng, buf.data(), nr);
      bytes.resize(static_cast<std::size_t>(nr * cols));
      for (int64_t cb = 0; cb < sc; ++cb) {
        const int64_t c0 = cb * B, c1 = std::min(cols, c0 + B);
        float amax = 0.0f;
        for (int64_t r = 0; r < nr; ++r)
          for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(buf[r * cols + c]));
        const float scale = std::max(amax, 1e-12f) / 448.0f;  // as the official quantiser
        scales_out[(r0 / B) * sc + cb] = scale;
        for (int64_t r = 0; r < nr; ++r)
          for (int64_t c = c0; c < c1; ++c) bytes[r * cols + c] = f32_to_fp8_e4m3(buf[r * cols + c] / scale);
      }
      DSV3_RETURN_IF_ERROR(w.append(bytes.data(), bytes.size()));
      advance(bytes.size());
    }
    return {};
  }
  const bool f32 = t.kind == Kind::kBias;
  const int64_t total_rows = t.shape.size() > 1 ? rows : 1;
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 20) / row_len);
  for (int64_t r0 = 0; r0 < total_rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, total_rows - r0);
    buf.resize(static_cast<std::size_t>(nr * row_len));
    fill(t, rng, buf.data(), nr);
    if (f32) {
      DSV3_RETURN_IF_ERROR(w.append(buf.data(), buf.size() * 4));
      advance(buf.size() * 4);
    } else {
      bytes.resize(buf.size() * 2);
      for (std::size_t i = 0; i < buf.size(); ++i) {
        const uint16_t b = f32_to_bf16(buf[i]);
        std::memcpy(&bytes[i * 2], &b, 2);
      }
      DSV3_RETURN_IF_ERROR(w.append(bytes.data(), bytes.size()));
      advance(bytes.size());
    }
  }
  return {};
}

}  // namespace

Result<json> synth_config(const std::string& preset, const std::string& dtype, int64_t layers) {
  if (dtype != "bf16" && dtype != "fp8") return make_error("--dtype must be bf16 or fp8, got \"{}\"", dtype);
  json c = base_config();
  if (preset == "v3-mini") {
    c.update({{"vocab_size", 129280}, {"hidden_size", 2048}, {"intermediate_size", 10240},
              {"moe_intermediate_size", 1408}, {"num_hidden_layers", 8}, {"first_k_dense_replace", 1},
              {"num_attention_heads", 16}, {"num_key_value_heads", 16}, {"q_lora_rank", 1536},
              {"kv_lora_rank", 512}, {"qk_nope_head_dim", 128}, {"qk_rope_head_dim", 64}, {"v_head_dim", 128},
              {"n_routed_experts", 64}, {"n_shared_experts", 1}, {"num_experts_per_tok", 8}, {"n_group", 8},
              {"topk_group", 4}});
  } else if (preset == "v3-slice") {
    c.update({{"vocab_size", 129280}, {"hidden_size", 7168}, {"intermediate_size", 18432},
              {"moe_intermediate_size", 2048}, {"num_hidden_layers", 2}, {"first_k_dense_replace", 1},
              {"num_attention_heads", 128}, {"num_key_value_heads", 128}, {"q_lora_rank", 1536},
              {"kv_lora_rank", 512}, {"qk_nope_head_dim", 128}, {"qk_rope_head_dim", 64}, {"v_head_dim", 128},
              {"n_routed_experts", 256}, {"n_shared_experts", 1}, {"num_experts_per_tok", 8}, {"n_group", 8},
              {"topk_group", 4}});
  } else if (preset == "tiny") {
    c.update({{"vocab_size", 129280}, {"hidden_size", 32}, {"intermediate_size", 96}, {"moe_intermediate_size", 24},
              {"num_hidden_layers", 3}, {"first_k_dense_replace", 1}, {"num_attention_heads", 2},
              {"num_key_value_heads", 2}, {"q_lora_rank", 32}, {"kv_lora_rank", 32}, {"qk_nope_head_dim", 16},
              {"qk_rope_head_dim", 16}, {"v_head_dim", 16}, {"n_routed_experts", 16}, {"n_shared_experts", 1},
              {"num_experts_per_tok", 4}, {"n_group", 4}, {"topk_group", 2}});
  } else if (preset == "expert-heavy") {
    // small, but with routed experts of whole pages: what a rank of a split job maps is measurable
    c.update({{"vocab_size", 2048}, {"hidden_size", 512}, {"intermediate_size", 1024}, {"moe_intermediate_size", 1024},
              {"num_hidden_layers", 3}, {"first_k_dense_replace", 1}, {"num_attention_heads", 4},
              {"num_key_value_heads", 4}, {"q_lora_rank", 256}, {"kv_lora_rank", 128}, {"qk_nope_head_dim", 64},
              {"qk_rope_head_dim", 32}, {"v_head_dim", 128}, {"n_routed_experts", 16}, {"n_shared_experts", 1},
              {"num_experts_per_tok", 4}, {"n_group", 4}, {"topk_group", 2}});
  } else {
    return make_error("--preset must be v3-mini, v3-slice, tiny or expert-heavy, got \"{}\"", preset);
  }
  if (layers >= 0) {
    if (layers < 1 || layers > 256) return make_error("--layers must be in [1, 256], got {}", layers);
    c["num_hidden_layers"] = layers;
    c["first_k_dense_replace"] = std::min<int64_t>(c["first_k_dense_replace"].get<int64_t>(), layers);
  }
  if (dtype == "fp8")
    c["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"},
                                {"weight_block_size", {128, 128}}};
  return c;
}

Status write_synthetic_checkpoint(const SynthOptions& o, const std::function<void(uint64_t, uint64_t)>& progress) {
  DSV3_ASSIGN_OR_RETURN(json cfg, synth_config(o.preset, o.dtype, o.layers));
  const std::vector<Planned> planned = plan(cfg, o.dtype == "fp8");
  // specs in file order, then shards of about shard_bytes (a weight and its scales stay together)
  std::vector<Spec> specs;
  for (int i = 0; i < static_cast<int>(planned.size()); ++i) {
    const Planned& t = planned[i];
    specs.push_back({{t.name, t.fp8 ? DType::F8_E4M3 : (t.kind == Kind::kBias ? DType::F32 : DType::BF16), t.shape}, i, false});
    if (t.fp8)
      specs.push_back({{t.name + "_scale_inv", DType::F32, {(t.shape[0] + 127) / 128, (t.shape[1] + 127) / 128}}, i, true});
  }
  std::vector<std::vector<int>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (int i = 0; i < static_cast<int>(specs.size()); ++i) {
    const uint64_t b = specs[i].spec.bytes();
    if (!specs[i].is_scale && in_shard > 0 && in_shard + b > o.shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(i);
    in_shard += b;
    total += b;
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) return make_error("{}: cannot create: {}", o.out, ec.message());
  json wmap = json::object();
  uint64_t done = 0;
  std::vector<float> scales, buf;
  std::vector<uint8_t> bytes;
  auto advance = [&](uint64_t n) {
    done += n;
    if (progress) progress(done, total);
  };
  for (std::size_t s = 0; s < shards.size(); ++s) {
    const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards.size());
    std::vector<TensorSpec> ss;
    for (int i : shards[s]) {
      ss.push_back(specs[i].spec);
      wmap[specs[i].spec.name] = file;
    }
    DSV3_ASSIGN_OR_RETURN(auto w, SafetensorsStreamWriter::create((fs::path(o.out) / file).string(), ss));
    for (int i : shards[s])
      DSV3_RETURN_IF_ERROR(write_tensor(planned[specs[i].planned], specs[i].is_scale, o.seed, w, scales, buf, bytes, advance));
    DSV3_RETURN_IF_ERROR(w.close());
  }
  std::ofstream(fs::path(o.out) / "model.safetensors.index.json")
      << json{{"metadata", {{"total_size", total}}}, {"weight_map", wmap}}.dump(2);
  std::ofstream(fs::path(o.out) / "config.json") << cfg.dump(2);
  if (cfg["vocab_size"] == 129280 && !o.tokenizer_dir.empty())
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      if (fs::exists(fs::path(o.tokenizer_dir) / f))
        fs::copy_file(fs::path(o.tokenizer_dir) / f, fs::path(o.out) / f, fs::copy_options::overwrite_existing, ec);
  return {};
}

}  // namespace dsv3
