#include "model/transformer.h"

#include "base/thread_pool.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/vec.h"

namespace dsv3 {

Transformer::Transformer(const Model& model, ThreadPool* pool)
    : model_(model), pool_(pool), attention_(model.config, pool), dense_(pool), moe_(model.config, pool) {}

LatentCache Transformer::make_cache(int64_t capacity, DType dtype) const {
  return LatentCache(model_.config.num_hidden_layers, model_.config.cache_width(), capacity, dtype);
}

Status Transformer::forward(std::span<const int32_t> ids, int64_t start, LatentCache& cache, float* hidden_out,
                            const LayerObserver* observer) {
  const SequenceChunk chunk{ids, start, &cache};
  return forward(std::span<const SequenceChunk>(&chunk, 1), hidden_out, observer);
}

Status Transformer::forward(std::span<const SequenceChunk> batch, float* hidden_out, const LayerObserver* observer) {
  const ModelConfig& c = model_.config;
  const Weights& w = model_.weights;
  const int64_t hidden = c.hidden_size;
  DSV3_ASSIGN_OR_RETURN(const int64_t n, check_batch(c, batch));
  for (const SequenceChunk& s : batch)
    if (s.cache->external()) return make_error("forward: the cache belongs to another device");
  if (n == 0) return {};
  rows_.clear();
  for (const SequenceChunk& s : batch) {
    s.cache->reserve(s.start + static_cast<int64_t>(s.ids.size()));
    for (std::size_t i = 0; i < s.ids.size(); ++i) rows_.push_back({s.start + static_cast<int64_t>(i), s.cache});
  }
  const float eps = static_cast<float>(c.rms_norm_eps);

  float* x = x_.get(n * hidden);        // the residual stream
  float* xn = normed_.get(n * hidden);  // its normalised copy
  float* y = branch_.get(n * hidden);   // a branch's output
  {
    int64_t i = 0;
    for (const SequenceChunk& s : batch)
      for (int32_t id : s.ids) ops::gather_row(w.embed, id, x + (i++) * hidden);
  }
  if (observer) (*observer)(0, x, n);

  auto norm_rows = [&](const std::vector<float>& weight, const float* in, float* out) {
    for (int64_t i = 0; i < n; ++i) ops::rmsnorm(in + i * hidden, weight.data(), hidden, eps, out + i * hidden);
  };
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    norm_rows(lw.attn_norm, x, xn);
    attention_.forward(lw.attn, xn, rows_, l, y);
    ops::add(y, x, n * hidden);
    norm_rows(lw.mlp_norm, x, xn);
    if (lw.is_moe)
      moe_.forward(lw.moe, xn, n, y);
    else
      dense_.forward(lw.mlp, xn, n, y);
    ops::add(y, x, n * hidden);
    if (observer && l + 1 < c.num_hidden_layers) (*observer)(l + 1, x, n);
  }
  norm_rows(w.final_norm, x, hidden_out);
  if (observer) (*observer)(c.num_hidden_layers, hidden_out, n);
  return {};
}

void Transformer::logits(const float* hidden, int64_t n, float* out) {
  const ModelConfig& c = model_.config;
  ops::matmul(model_.weights.lm_head, hidden, c.hidden_size, n, out, c.vocab_size, pool_);
}

void Transformer::set_precision(ops::Precision p) {
  precision_ = p;
  attention_.set_precision(p);
  dense_.set_precision(p);
  moe_.set_precision(p);
}

}  // namespace dsv3
