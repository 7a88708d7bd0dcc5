// Typed views of every DeepSeek-V3 weight, bound by name and checked against
// the config. Matrices stay in the checkpoint's mapping in their stored dtype;
// only the small 1-D vectors (norms, router bias) are widened to f32.
#pragma once
#include <string>
#include <vector>

#include "base/status.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/shard.h"
#include "ops/backend.h"
#include "ops/matrix.h"

namespace dsv3 {

using SwiGluWeights = ops::GatedMlp;  // down(silu(gate x) * up x)

struct MoeWeights {
  ops::Matrix router;               // [n_routed_experts, hidden]
  std::vector<float> router_bias;   // e_score_correction_bias; steers the choice only
  std::vector<SwiGluWeights> experts;  // those outside `owned` are left empty (another rank's)
  IndexRange owned;                 // the experts this rank holds and computes
  SwiGluWeights shared;             // all shared experts as one wider MLP (this rank's columns)
  bool has_shared = false;
};

struct AttentionWeights {
  bool q_lora = false;
  ops::Matrix q_a, q_b;             // q_lora: x -> q_a -> norm -> q_b
  std::vector<float> q_a_norm;
  ops::Matrix q;                    // otherwise: plain q_proj
  ops::Matrix kv_a;                 // [kv_lora_rank + qk_rope_head_dim, hidden]
  std::vector<float> kv_a_norm;
  ops::Matrix kv_b;                 // [heads * (qk_nope + v_head), kv_lora_rank]
  // or, as GGUF files split it: per head W_uk^T [kv_lora_rank, qk_nope] and
  // W_uv [v_head, kv_lora_rank], heads stacked (kv_b is then empty)
  bool split_kv_b = false;
  ops::Matrix k_b, v_b;
  ops::Matrix o;                    // [hidden, heads * v_head]
  // The heads this rank computes (all of them unless tensor parallel):
  // the views above then hold only those heads' rows, o only their columns.
  int64_t heads = 0;
};

struct LayerWeights {
  std::vector<float> attn_norm, mlp_norm;
  AttentionWeights attn;
  bool is_moe = false;
  SwiGluWeights mlp;                // dense layers (this rank's columns; none: width 0)
  MoeWeights moe;                   // MoE layers
};

// Multi-token-prediction module (layers past num_hidden_layers): recognised and
// kept for speculative decoding, not used by the main model.
struct MtpWeights {
  LayerWeights layer;
  std::vector<float> enorm, hnorm, head_norm;
  ops::Matrix eh_proj, head, embed;
};

struct Weights {
  ops::Matrix embed;                // [vocab, hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm;
  ops::Matrix lm_head;              // [vocab, hidden]: this rank's rows `vocab` of it
  IndexRange vocab;
  bool head_here = true;            // whether this rank computes logits (ep: rank 0 alone)
  std::vector<MtpWeights> mtp;
};

// Binds the views `shard`'s rank holds (all of them for a single process).
// Every tensor is looked up and checked on every rank; a rank keeps only its
// share, and never reads the data of the others.
Result<Weights> bind_weights(const Checkpoint& ckpt, const ModelConfig& cfg, const Shard& shard = {});

// Parameter and byte counts, for `inspect` and bandwidth figures.
struct WeightStats {
  int64_t params = 0, bytes = 0;                // main model (MTP excluded)
  int64_t active_params = 0, active_bytes = 0;  // read per decoded token
  int64_t mtp_params = 0, mtp_bytes = 0;
};
WeightStats weight_stats(const Weights& w, const ModelConfig& cfg);
// The bytes a matrix view reads: its elements and, for fp8, its block scales.
int64_t matrix_bytes(const ops::Matrix& m);

}  // namespace dsv3
