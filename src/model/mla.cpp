#include "model/mla.h"

#include <algorithm>
#include <limits>

#include "base/thread_pool.h"
#include "ops/attention.h"
#include "ops/matmul.h"
#include "ops/norm.h"

namespace dsv3 {

namespace {
constexpr int64_t kMinKeysPerPart = 256;  // below this, splitting one query's keys costs more than it saves

ops::Rope make_rope(const ModelConfig& c) {
  const int dim = static_cast<int>(c.qk_rope_head_dim);
  return c.yarn ? ops::Rope(dim, c.rope_theta, *c.yarn) : ops::Rope(dim, c.rope_theta);
}
}  // namespace

MlaAttention::MlaAttention(const ModelConfig& cfg, ThreadPool* pool)
    : cfg_(cfg), pool_(pool), rope_(make_rope(cfg)), softmax_scale_(static_cast<float>(cfg.softmax_scale())) {}

void MlaAttention::forward(const AttentionWeights& w, const float* x, std::span<const TokenSlot> rows,
                           int64_t layer, float* out) {
  const int64_t n = static_cast<int64_t>(rows.size());
  const ModelConfig& c = cfg_;
  const int64_t hidden = c.hidden_size, nh = c.num_attention_heads;
  const int64_t nope = c.qk_nope_head_dim, qk = c.qk_head_dim();
  const int64_t lora = c.kv_lora_rank, cw = c.cache_width(), vd = c.v_head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);

  // the down projections of x (one batch: in decode, one pass over the threads):
  // the new cache rows and, with q_lora, the query latent
  float* q = q_.get(n * nh * qk);  // queries: [n][heads][nope | rope]
  float* kv = kv_.get(n * cw);
  float* qa = w.q_lora ? q_a_.get(n * c.q_lora_rank) : nullptr;
  const ops::MatmulJob down[] = {{w.kv_a, x, hidden, n, kv, cw},
                                 w.q_lora ? ops::MatmulJob{w.q_a, x, hidden, n, qa, c.q_lora_rank}
                                          : ops::MatmulJob{w.q, x, hidden, n, q, nh * qk}};
  ops::matmul_batch(down, pool_, precision_);
  if (w.q_lora) {
    for (int64_t i = 0; i < n; ++i)
      ops::rmsnorm(qa + i * c.q_lora_rank, w.q_a_norm.data(), c.q_lora_rank, eps, qa + i * c.q_lora_rank);
    ops::matmul(w.q_b, qa, c.q_lora_rank, n, q, nh * qk, pool_, precision_);
  }

  // the cache rows: normalised latent, then k_pe rotated to its position
  for (int64_t i = 0; i < n; ++i) {
    float* row = kv + i * cw;
    ops::rmsnorm(row, w.kv_a_norm.data(), lora, eps, row);
    rope_.apply(row + lora, rows[i].pos);
    rows[i].cache->store(layer, rows[i].pos, row);
  }

  // absorbed queries [n][heads][lora | rope]: q_nope through W_uk^T, q_pe rotated
  float* q_abs = q_abs_.get(n * nh * cw);
  const int64_t kvb_rows = nope + vd;
  // split over heads: decode (one token) keeps every thread busy too
  pool_->parallel_for(nh, [&](int64_t hb, int64_t he, int) {
    for (int64_t h = hb; h < he; ++h) {
      const ops::Matrix w_uk = w.kv_b.row_slice(h * kvb_rows, nope);
      ops::matmul_transposed(w_uk, q + h * qk, nh * qk, n, q_abs + h * cw, nh * cw);
      for (int64_t i = 0; i < n; ++i) {
        float* qpe = q_abs + (i * nh + h) * cw + lora;
        std::copy(q + i * nh * qk + h * qk + nope, q + i * nh * qk + (h + 1) * qk, qpe);
        rope_.apply(qpe, rows[i].pos);
      }
    }
  });

  // attention over the latent cache
  float* lat = latent_out_.get(n * nh * lora);
  const int64_t per_thread = ops::shared_kv_attention_scratch(nh);
  float* scratch = attn_scratch_.get(per_thread * pool_->size());
  const auto attention = [&](int64_t i, int64_t h0, int64_t h1) {  // token i, heads [h0, h1)
    ops::SharedKvAttention a;
    a.q = q_abs + (i * nh + h0) * cw;
    a.ldq = cw;
    a.nq = h1 - h0;
    const LatentCache& cache = *rows[i].cache;
    a.kv = cache.row(layer, 0);
    a.kv_dtype = cache.dtype();
    a.ldkv = cw;
    a.n_kv = rows[i].pos + 1;  // causal: itself and everything before
    a.dk = cw;
    a.dv = lora;
    a.scale = softmax_scale_;
    a.out = lat + (i * nh + h0) * lora;
    a.ldo = lora;
    return a;
  };
  const int64_t threads = pool_->size();
  int64_t longest = 0;
  for (const TokenSlot& r : rows) longest = std::max(longest, r.pos + 1);
  if (n < threads && longest >= 2 * kMinKeysPerPart) {
    // fewer tokens than threads (decode): each token's keys are split over
    // the threads, every thread reading its share of the cache once for all
    // heads; the parts are merged after
    const int64_t parts = threads / n;
    float* outs = parts_.get(n * parts * (nh * lora + 2 * nh));
    float* stats = outs + n * parts * nh * lora;  // per token: max [part][nh], then sum [part][nh]
    pool_->parallel_for(n * parts, [&](int64_t b, int64_t e, int t) {
      for (int64_t item = b; item < e; ++item) {
        const int64_t i = item / parts, p = item % parts;
        ops::SharedKvAttention a = attention(i, 0, nh);
        const int64_t k0 = a.n_kv * p / parts, k1 = a.n_kv * (p + 1) / parts;
        a.kv = rows[i].cache->row(layer, k0);
        a.n_kv = k1 - k0;
        a.out = outs + item * nh * lora;
        float* max = stats + i * 2 * parts * nh + p * nh;
        float* sum = max + parts * nh;
        if (a.n_kv == 0) {  // a part with no keys weighs nothing in the merge
          std::fill(max, max + nh, -std::numeric_limits<float>::infinity());
          continue;
        }
        ops::shared_kv_attention_partial(a, scratch + per_thread * t, max, sum);
      }
    });
    for (int64_t i = 0; i < n; ++i) {
      const float* max = stats + i * 2 * parts * nh;
      ops::merge_attention_partials(nh, lora, parts, outs + i * parts * nh * lora, nh * lora, max, max + parts * nh,
                                    lat + i * nh * lora, lora);
    }
  } else {
    // work items are (token, head); contiguous heads of one token share each cache row load
    pool_->parallel_for(n * nh, [&](int64_t b, int64_t e, int t) {
      for (int64_t item = b; item < e;) {
        const int64_t i = item / nh, h0 = item % nh;
        const int64_t h1 = std::min(nh, h0 + (e - item));
        ops::shared_kv_attention(attention(i, h0, h1), scratch + per_thread * t);
        item += h1 - h0;
      }
    });
  }

  // values: each head's latent output through its W_uv, then o_proj
  float* heads = head_out_.get(n * nh * vd);
  pool_->parallel_for(nh, [&](int64_t hb, int64_t he, int) {
    for (int64_t h = hb; h < he; ++h) {
      const ops::Matrix w_uv = w.kv_b.row_slice(h * kvb_rows + nope, vd);
      ops::matmul(w_uv, lat + h * lora, nh * lora, n, heads + h * vd, nh * vd, nullptr, precision_);
    }
  });
  ops::matmul(w.o, heads, nh * vd, n, out, hidden, pool_, precision_);
}

}  // namespace dsv3
