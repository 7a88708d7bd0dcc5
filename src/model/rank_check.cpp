#include "model/rank_check.h"

#include <array>
#include <cstring>
#include <vector>

namespace dsv3 {

namespace {

struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(std::string_view s) {
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // a separator: ("ab","c") != ("a","bc")
  }
  void add(int64_t v) { add(std::string_view(reinterpret_cast<const char*>(&v), sizeof v)); }
};

// One rank's outcome, fixed size for one allgather.
struct Outcome {
  int64_t ok = 0;
  uint64_t digest = 0;
  std::array<char, 496> message{};
};

}  // namespace

uint64_t model_digest(const Model& model, std::string_view build) {
  const ModelConfig& c = model.config;
  Fnv f;
  f.add(build);
  for (int64_t v : {c.vocab_size, c.hidden_size, c.intermediate_size, c.moe_intermediate_size, c.num_hidden_layers,
                    c.first_k_dense_replace, c.moe_layer_freq, c.num_attention_heads, c.q_lora_rank, c.kv_lora_rank,
                    c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim, c.n_routed_experts, c.n_shared_experts,
                    c.num_experts_per_tok, c.n_group, c.topk_group, c.fp8_block_rows, c.fp8_block_cols})
    f.add(v);
  f.add(fmt::format("{} {} {} {} {} {}", c.routed_scaling_factor, c.norm_topk_prob, c.scoring_func, c.topk_method,
                    c.rms_norm_eps, c.rope_theta));
  for (const auto& [name, t] : model.checkpoint.tensors()) {
    f.add(name);
    f.add(static_cast<int64_t>(t->dtype));
    for (int64_t d : t->shape) f.add(d);
  }
  return f.h;
}

Status check_ranks_agree(dist::Communicator& comm, const Status& loaded, uint64_t digest) {
  Outcome mine;
  mine.ok = loaded.ok() ? 1 : 0;
  mine.digest = digest;
  if (!loaded.ok()) {
    const std::string& m = loaded.error().message;
    std::memcpy(mine.message.data(), m.data(), std::min(m.size(), mine.message.size() - 1));
  }
  std::vector<Outcome> all(static_cast<std::size_t>(comm.size()));
  DSV3_RETURN_IF_ERROR(comm.allgather_bytes(&mine, sizeof mine, all.data()));
  for (int r = 0; r < comm.size(); ++r) {
    const Outcome& o = all[static_cast<std::size_t>(r)];
    if (!o.ok) return make_error("rank {} of {}: {}", r, comm.size(), std::string(o.message.data()));
  }
  for (int r = 1; r < comm.size(); ++r)
    if (all[static_cast<std::size_t>(r)].digest != all[0].digest)
      return make_error("rank {} loaded a different model or runs a different dsv3 than rank 0 (digest {:016x} != "
                        "{:016x}: config, tensor shapes, binary version, layout and instruction set must all match)",
                        r, all[static_cast<std::size_t>(r)].digest, all[0].digest);
  return {};
}

}  // namespace dsv3
