#include "model/config.h"
#include "base/read_file.h"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace dsv3 {

using nlohmann::json;

namespace {

// Reads typed keys out of a JSON object and keeps the first error, naming the key.
class Reader {
 public:
  Reader(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  void integer(const char* key, int64_t& out, bool required = true) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) fail("{}: missing key \"{}\"", where_, key);
      return;
    }
    if (!it->is_number_integer()) return fail("{}: key \"{}\" must be an integer", where_, key);
    // past int64 it would wrap to a negative value and be misreported
    if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})
      return fail("{}: key \"{}\" ({}) is out of range", where_, key, it->dump());
    out = it->get<int64_t>();
  }
  void number(const char* key, double& out, bool required = true) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) fail("{}: missing key \"{}\"", where_, key);
      return;
    }
    if (!it->is_number()) return fail("{}: key \"{}\" must be a number", where_, key);
    out = it->get<double>();
  }
  void boolean(const char* key, bool& out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return;
    if (!it->is_boolean()) return fail("{}: key \"{}\" must be true or false", where_, key);
    out = it->get<bool>();
  }
  void string(const char* key, std::string& out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return;
    if (!it->is_string()) return fail("{}: key \"{}\" must be a string", where_, key);
    out = it->get<std::string>();
  }
  template <class... Args>
  void fail(fmt::format_string<Args...> f, Args&&... args) {
    if (!error_) error_ = make_error(f, std::forward<Args>(args)...);
  }
  const std::optional<Error>& error() const { return error_; }

 private:
  const json& j_;
  std::string where_;
  std::optional<Error> error_;
};

}  // namespace

double ModelConfig::softmax_scale() const {
  double s = 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
  if (yarn && yarn->mscale_all_dim != 0.0) {
    const double m = ops::yarn_mscale(yarn->factor, yarn->mscale_all_dim);
    s *= m * m;
  }
  return s;
}

Result<ModelConfig> parse_config(const std::string& text, const std::string& where) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("{}: not valid JSON", where);
  if (!j.is_object()) return make_error("{}: expected a JSON object", where);
  ModelConfig c;
  Reader r(j, where);
  r.integer("vocab_size", c.vocab_size);
  r.integer("hidden_size", c.hidden_size);
  r.integer("intermediate_size", c.intermediate_size);
  r.integer("num_hidden_layers", c.num_hidden_layers);
  r.integer("num_attention_heads", c.num_attention_heads);
  r.integer("kv_lora_rank", c.kv_lora_rank);
  r.integer("qk_nope_head_dim", c.qk_nope_head_dim);
  r.integer("qk_rope_head_dim", c.qk_rope_head_dim);
  r.integer("v_head_dim", c.v_head_dim);
  r.integer("q_lora_rank", c.q_lora_rank, /*required=*/false);  // null: plain q_proj
  if (!j.contains("q_lora_rank")) r.fail("{}: missing key \"q_lora_rank\" (use null for a plain q_proj)", where);
  r.integer("n_routed_experts", c.n_routed_experts, false);
  r.integer("n_shared_experts", c.n_shared_experts, false);
  r.integer("num_experts_per_tok", c.num_experts_per_tok, c.n_routed_experts > 0);
  r.integer("moe_intermediate_size", c.moe_intermediate_size, c.n_routed_experts > 0);
  r.integer("first_k_dense_replace", c.first_k_dense_replace, false);
  r.integer("moe_layer_freq", c.moe_layer_freq, false);
  r.integer("n_group", c.n_group, false);
  r.integer("topk_group", c.topk_group, false);
  r.number("routed_scaling_factor", c.routed_scaling_factor, false);
  r.boolean("norm_topk_prob", c.norm_topk_prob);
  r.string("scoring_func", c.scoring_func);
  r.string("topk_method", c.topk_method);
  r.number("rms_norm_eps", c.rms_norm_eps, false);
  r.number("rope_theta", c.rope_theta, false);
  r.integer("max_position_embeddings", c.max_position_embeddings, false);
  r.integer("num_nextn_predict_layers", c.num_nextn_predict_layers, false);
  r.boolean("tie_word_embeddings", c.tie_word_embeddings);
  r.integer("bos_token_id", c.bos_token_id, false);
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      c.eos_token_ids.push_back(it->get<int64_t>());
    } else if (it->is_array()) {
      for (const auto& v : *it) {
        if (!v.is_number_integer()) {
          r.fail("{}: key \"eos_token_id\" must hold integers", where);
          break;
        }
        c.eos_token_ids.push_back(v.get<int64_t>());
      }
    } else {
      r.fail("{}: key \"eos_token_id\" must be an integer or a list of integers", where);
    }
  }
  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      r.fail("{}: key \"rope_scaling\" must be an object or null", where);
    } else {
      std::string type;
      Reader rs(*it, where + ": rope_scaling");
      rs.string("type", type);
      if (type.empty()) rs.string("rope_type", type);
      if (type == "yarn") {
        ops::YarnParams y;
        rs.number("factor", y.factor);
        rs.integer("original_max_position_embeddings", y.original_max_positions);
        rs.number("beta_fast", y.beta_fast, false);
        rs.number("beta_slow", y.beta_slow, false);
        rs.number("mscale", y.mscale, false);
        rs.number("mscale_all_dim", y.mscale_all_dim, false);
        if (rs.error()) return *rs.error();
        if (!(y.factor >= 1.0)) r.fail("{}: rope_scaling.factor must be >= 1", where);
        if (y.original_max_positions <= 0)
          r.fail("{}: rope_scaling.original_max_position_embeddings must be positive", where);
        c.yarn = y;
      } else if (!type.empty() && type != "default") {
        r.fail("{}: rope_scaling type \"{}\" is not supported (yarn or none)", where, type);
      }
    }
  }
  if (auto it = j.find("quantization_config"); it != j.end() && !it->is_null()) {
    std::string method, fmt_name;
    Reader rq(*it, where + ": quantization_config");
    rq.string("quant_method", method);
    rq.string("fmt", fmt_name);
    if (rq.error()) return *rq.error();
    if (method != "fp8") r.fail("{}: quantization_config.quant_method \"{}\" is not supported (fp8)", where, method);
    if (!fmt_name.empty() && fmt_name != "e4m3")
      r.fail("{}: quantization_config.fmt \"{}\" is not supported (e4m3)", where, fmt_name);
    auto bs = it->find("weight_block_size");
    if (bs == it->end() || !bs->is_array() || bs->size() != 2 || !(*bs)[0].is_number_integer() ||
        !(*bs)[1].is_number_integer() || (*bs)[0].get<int64_t>() <= 0 || (*bs)[1].get<int64_t>() <= 0) {
      r.fail("{}: quantization_config.weight_block_size must be two positive integers", where);
    } else {
      c.fp8_block_rows = (*bs)[0].get<int64_t>();
      c.fp8_block_cols = (*bs)[1].get<int64_t>();
    }
  }
  if (r.error()) return *r.error();

  // consistency: every width positive, routing sizes that divide
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) r.fail("{}: key \"{}\" must be positive (got {})", where, key, v);
  };
  positive("vocab_size", c.vocab_size);
  positive("hidden_size", c.hidden_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("kv_lora_rank", c.kv_lora_rank);
  positive("qk_nope_head_dim", c.qk_nope_head_dim);
  positive("qk_rope_head_dim", c.qk_rope_head_dim);
  positive("v_head_dim", c.v_head_dim);
  if (c.q_lora_rank < 0) r.fail("{}: key \"q_lora_rank\" must be positive or null", where);
  if (c.qk_rope_head_dim % 2 != 0) r.fail("{}: key \"qk_rope_head_dim\" must be even (got {})", where, c.qk_rope_head_dim);
  if (c.first_k_dense_replace < 0 || c.first_k_dense_replace > c.num_hidden_layers)
    r.fail("{}: key \"first_k_dense_replace\" ({}) must lie in [0, num_hidden_layers]", where, c.first_k_dense_replace);
  if (c.moe_layer_freq <= 0) r.fail("{}: key \"moe_layer_freq\" must be positive", where);
  if (c.first_k_dense_replace > 0 || c.n_routed_experts == 0) positive("intermediate_size", c.intermediate_size);
  if (c.n_routed_experts < 0) r.fail("{}: key \"n_routed_experts\" must not be negative", where);
  if (c.n_routed_experts > 0) {
    positive("moe_intermediate_size", c.moe_intermediate_size);
    positive("n_group", c.n_group);
    if (c.num_experts_per_tok <= 0 || c.num_experts_per_tok > c.n_routed_experts)
      r.fail("{}: key \"num_experts_per_tok\" ({}) must lie in [1, n_routed_experts={}]", where, c.num_experts_per_tok,
             c.n_routed_experts);
    if (c.n_group > 0 && c.n_routed_experts % c.n_group != 0)
      r.fail("{}: key \"n_group\" ({}) must divide n_routed_experts ({})", where, c.n_group, c.n_routed_experts);
    if (c.topk_group <= 0 || c.topk_group > c.n_group)
      r.fail("{}: key \"topk_group\" ({}) must lie in [1, n_group={}]", where, c.topk_group, c.n_group);
    if (c.n_group > 0 && c.topk_group > 0 && c.num_experts_per_tok > c.topk_group * (c.n_routed_experts / c.n_group))
      r.fail("{}: key \"num_experts_per_tok\" ({}) exceeds the experts in topk_group groups", where,
             c.num_experts_per_tok);
    if (c.n_routed_experts > 1024) r.fail("{}: key \"n_routed_experts\" ({}) exceeds 1024", where, c.n_routed_experts);
    if (c.n_shared_experts < 0) r.fail("{}: key \"n_shared_experts\" must not be negative", where);
    if (c.scoring_func != "sigmoid")
      r.fail("{}: key \"scoring_func\" \"{}\" is not supported (sigmoid)", where, c.scoring_func);
    if (c.topk_method != "noaux_tc")
      r.fail("{}: key \"topk_method\" \"{}\" is not supported (noaux_tc)", where, c.topk_method);
  }
  if (c.num_nextn_predict_layers < 0) r.fail("{}: key \"num_nextn_predict_layers\" must not be negative", where);
  if (!(c.rms_norm_eps > 0.0)) r.fail("{}: key \"rms_norm_eps\" must be positive", where);
  if (!(c.rope_theta > 0.0)) r.fail("{}: key \"rope_theta\" must be positive", where);
  // ids are int32 everywhere past the loader
  if (c.vocab_size > INT32_MAX) r.fail("{}: key \"vocab_size\" ({}) exceeds {}", where, c.vocab_size, INT32_MAX);
  // absent: no known limit (0); present: a context of no positions is no model
  if (j.contains("max_position_embeddings") && !j["max_position_embeddings"].is_null())
    positive("max_position_embeddings", c.max_position_embeddings);
  if (!(c.routed_scaling_factor > 0.0) || !std::isfinite(c.routed_scaling_factor))
    r.fail("{}: key \"routed_scaling_factor\" must be positive and finite (got {})", where, c.routed_scaling_factor);
  // absent or null: no BOS (-1); a given id must be a token
  if (j.contains("bos_token_id") && !j["bos_token_id"].is_null() && (c.bos_token_id < 0 || c.bos_token_id >= c.vocab_size))
    r.fail("{}: key \"bos_token_id\" ({}) is outside the vocabulary [0, {})", where, c.bos_token_id, c.vocab_size);
  for (int64_t e : c.eos_token_ids)
    if (e < 0 || e >= c.vocab_size)
      r.fail("{}: key \"eos_token_id\" ({}) is outside the vocabulary [0, {})", where, e, c.vocab_size);
  if (r.error()) return *r.error();
  return c;
}

Result<ModelConfig> load_config(const std::string& path) {
  DSV3_ASSIGN_OR_RETURN(std::string text, read_regular_file(path));
  return parse_config(text, path);
}

}  // namespace dsv3
