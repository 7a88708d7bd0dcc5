#include "model/mla.h"

#include <algorithm>

#include "model/scratch_slots.h"

namespace dsv3 {

ops::Rope mla_rope(const ModelConfig& c) {
  const int dim = static_cast<int>(c.qk_rope_head_dim);
  return c.yarn ? ops::Rope(dim, c.rope_theta, *c.yarn) : ops::Rope(dim, c.rope_theta);
}

MlaAttention::MlaAttention(const ModelConfig& cfg)
    : cfg_(cfg), rope_(mla_rope(cfg)), softmax_scale_(static_cast<float>(cfg.softmax_scale())) {}

Status MlaAttention::forward(ops::Backend& be, const AttentionWeights& w, const float* x, int64_t n, int64_t layer,
                             float* out, ops::Precision precision) {
  const ModelConfig& c = cfg_;
  // the heads of this rank: all of them, or its share under tensor parallelism
  const int64_t hidden = c.hidden_size, nh = w.heads;
  const int64_t nope = c.qk_nope_head_dim, qk = c.qk_head_dim();
  const int64_t lora = c.kv_lora_rank, rope = c.qk_rope_head_dim, cw = c.cache_width(), vd = c.v_head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);

  // the down projections of x in one batch: the new cache rows and, with
  // q_lora, the query latent (else the queries themselves)
  DSV3_ASSIGN_OR_RETURN(float* q, be.scratch_as<float>(kQuery, n * nh * qk));  // [n][heads][nope | rope]
  DSV3_ASSIGN_OR_RETURN(float* kv, be.scratch_as<float>(kNewLatent, n * cw));
  float* qa = nullptr;
  if (w.q_lora) {
    DSV3_ASSIGN_OR_RETURN(qa, be.scratch_as<float>(kQueryLatent, n * c.q_lora_rank));
  }
  const ops::MatmulJob down[] = {{w.kv_a, x, hidden, n, kv, cw},
                                 w.q_lora ? ops::MatmulJob{w.q_a, x, hidden, n, qa, c.q_lora_rank}
                                          : ops::MatmulJob{w.q, x, hidden, n, q, nh * qk}};
  DSV3_RETURN_IF_ERROR(be.matmul(std::span(down, nh > 0 ? 2 : 1), precision));
  if (w.q_lora && nh > 0) {
    DSV3_RETURN_IF_ERROR(be.rmsnorm(qa, c.q_lora_rank, w.q_a_norm, n, eps, qa, c.q_lora_rank));
    const ops::MatmulJob up{w.q_b, qa, c.q_lora_rank, n, q, nh * qk};
    DSV3_RETURN_IF_ERROR(be.matmul({&up, 1}, precision));
  }

  // the cache rows: normalised latent, then k_pe rotated to its position
  DSV3_RETURN_IF_ERROR(be.rmsnorm(kv, cw, w.kv_a_norm, n, eps, kv, cw));
  DSV3_RETURN_IF_ERROR(be.rope(rope_, kv + lora, cw, 1));
  DSV3_RETURN_IF_ERROR(be.cache_store(layer, kv, cw));
  if (nh == 0) {  // a rank without heads (tensor parallel) keeps the cache whole and adds nothing
    if (!be.host_memory()) return make_error("attention: a rank without heads needs a host-memory backend");
    std::fill_n(out, n * hidden, 0.0f);
    return {};
  }

  // absorbed queries [n][heads][lora | rope]: each head's q_nope through its
  // W_uk^T (rows h * (nope + vd) of kv_b), q_pe rotated
  DSV3_ASSIGN_OR_RETURN(float* q_abs, be.scratch_as<float>(kAbsorbedQuery, n * nh * cw));
  // (split weights hold W_uk^T itself: rows h * lora of k_b)
  const ops::GroupedProduct absorb =
      w.split_kv_b
          ? ops::GroupedProduct{.w = w.k_b, .groups = nh, .row_step = lora, .rows = lora, .x = q, .ldx = nh * qk,
                                .x_step = qk, .y = q_abs, .ldy = nh * cw, .y_step = cw, .n = n}
          : ops::GroupedProduct{.w = w.kv_b, .groups = nh, .row_step = nope + vd, .rows = nope, .transposed = true,
                                .x = q, .ldx = nh * qk, .x_step = qk, .y = q_abs, .ldy = nh * cw, .y_step = cw, .n = n};
  DSV3_RETURN_IF_ERROR(be.grouped_matmul(absorb, precision));
  DSV3_RETURN_IF_ERROR(be.copy(q + nope, qk, n * nh, rope, q_abs + lora, cw));
  DSV3_RETURN_IF_ERROR(be.rope(rope_, q_abs + lora, cw, nh));

  // attention over the latent cache: keys are whole rows, values their latent part
  DSV3_ASSIGN_OR_RETURN(float* lat, be.scratch_as<float>(kLatentOut, n * nh * lora));
  const ops::CachedAttention att{.q = q_abs, .heads = nh, .layer = layer, .dv = lora, .scale = softmax_scale_, .out = lat};
  DSV3_RETURN_IF_ERROR(be.cached_attention(att));

  // values: each head's latent output through its W_uv (the next vd rows of kv_b), then o_proj
  DSV3_ASSIGN_OR_RETURN(float* heads, be.scratch_as<float>(kHeadOut, n * nh * vd));
  const ops::GroupedProduct values{.w = w.split_kv_b ? w.v_b : w.kv_b, .groups = nh, .row0 = w.split_kv_b ? 0 : nope,
                                   .row_step = w.split_kv_b ? vd : nope + vd, .rows = vd, .x = lat, .ldx = nh * lora,
                                   .x_step = lora, .y = heads, .ldy = nh * vd, .y_step = vd, .n = n};
  DSV3_RETURN_IF_ERROR(be.grouped_matmul(values, precision));
  const ops::MatmulJob o{w.o, heads, nh * vd, n, out, hidden};
  return be.matmul({&o, 1}, precision);
}

}  // namespace dsv3
