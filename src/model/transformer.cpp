#include "model/transformer.h"

#include <algorithm>
#include <cstring>

#include "dist/communicator.h"
#include "model/moe.h"
#include "model/scratch_slots.h"
#include "ops/cpu_backend.h"

namespace dsv3 {

Transformer::Transformer(const Model& model, ops::Backend& backend)
    : model_(model), be_(backend), attention_(model.config) {}

Transformer::Transformer(const Model& model, ThreadPool* pool, dist::Communicator* comm)
    : model_(model),
      owned_(std::make_unique<ops::CpuBackend>(pool)),
      be_(*owned_),
      attention_(model.config),
      comm_(comm) {}

Transformer::~Transformer() = default;

LatentCache Transformer::make_cache(int64_t capacity, DType dtype) const {
  const ModelConfig& c = model_.config;
  LatentCache cache(be_.make_cache(c.num_hidden_layers, c.cache_width(), dtype));
  // a failed reservation here is reported by the forward pass that needs the room
  if (capacity > 0) (void)cache.reserve(capacity);
  return cache;
}

Status Transformer::forward(std::span<const SequenceChunk> batch, float* hidden_out, const LayerObserver* observer) {
  const ModelConfig& c = model_.config;
  DSV3_ASSIGN_OR_RETURN(const int64_t n, check_batch(c, batch));
  if (n == 0) return {};
  const Shard& shard = model_.shard;
  if (shard.split() && (comm_ == nullptr || comm_->size() != shard.ranks || comm_->rank() != shard.rank))
    return make_error("forward: this model is rank {} of {} but runs without that job's communicator", shard.rank,
                      shard.ranks);
  if (shard.split() && !be_.host_memory()) return make_error("forward: a split model runs on the CPU backend only");
  ids_.clear();
  places_.clear();
  for (const SequenceChunk& s : batch) {
    if (s.ids.empty()) continue;
    DSV3_RETURN_IF_ERROR(s.cache->reserve(s.start + static_cast<int64_t>(s.ids.size())));
    for (std::size_t i = 0; i < s.ids.size(); ++i) {
      ids_.push_back(s.ids[i]);
      places_.push_back({s.start + static_cast<int64_t>(i), &s.cache->rows().storage()});
    }
  }
  DSV3_RETURN_IF_ERROR(be_.begin_batch(ids_, places_));
  const int64_t bytes = n * c.hidden_size * static_cast<int64_t>(sizeof(float));
  float* out = hidden_out;
  if (!be_.host_memory()) {
    DSV3_ASSIGN_OR_RETURN(out, be_.scratch_as<float>(kFinal, n * c.hidden_size));
  }
  DSV3_RETURN_IF_ERROR(layers(n, out, observer));
  if (!be_.host_memory()) DSV3_RETURN_IF_ERROR(be_.download(out, hidden_out, bytes));
  DSV3_RETURN_IF_ERROR(be_.finish());
  mark_written(batch);
  return {};
}

Status Transformer::layers(int64_t n, float* final_out, const LayerObserver* observer) {
  const ModelConfig& c = model_.config;
  const Weights& w = model_.weights;
  const int64_t hidden = c.hidden_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  DSV3_ASSIGN_OR_RETURN(float* x, be_.scratch_as<float>(kResidual, n * hidden));  // the residual stream
  DSV3_ASSIGN_OR_RETURN(float* xn, be_.scratch_as<float>(kNormed, n * hidden));   // its normalised copy
  DSV3_ASSIGN_OR_RETURN(float* y, be_.scratch_as<float>(kBranch, n * hidden));    // a branch's output
  const bool split = model_.shard.split(), tp = model_.shard.tensor_parallel();

  DSV3_RETURN_IF_ERROR(be_.embed(w.embed, x));
  if (observer) DSV3_RETURN_IF_ERROR(observe(*observer, 0, x, n));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = w.layers[static_cast<std::size_t>(l)];
    DSV3_RETURN_IF_ERROR(be_.rmsnorm(x, hidden, lw.attn_norm, n, eps, xn, hidden));
    DSV3_RETURN_IF_ERROR(attention_.forward(be_, lw.attn, xn, n, l, y, precision_));
    if (tp) DSV3_RETURN_IF_ERROR(sum_parts(y, n * hidden));  // each rank's heads
    DSV3_RETURN_IF_ERROR(be_.add(y, x, n * hidden));
    DSV3_RETURN_IF_ERROR(be_.rmsnorm(x, hidden, lw.mlp_norm, n, eps, xn, hidden));
    if (lw.is_moe) {
      // each rank's experts (and its columns of the shared experts): one sum per layer
      DSV3_RETURN_IF_ERROR(moe(be_, c, lw.moe, xn, n, y, precision_));
      if (split) DSV3_RETURN_IF_ERROR(sum_parts(y, n * hidden));
    } else {
      if (lw.mlp.gate.rows > 0)
        DSV3_RETURN_IF_ERROR(dense_mlp(be_, lw.mlp, xn, n, y, precision_));
      else
        std::fill_n(y, n * hidden, 0.0f);  // a rank without columns of it (host memory: checked in forward)
      if (tp) DSV3_RETURN_IF_ERROR(sum_parts(y, n * hidden));
    }
    DSV3_RETURN_IF_ERROR(be_.add(y, x, n * hidden));
    if (observer && l + 1 < c.num_hidden_layers) DSV3_RETURN_IF_ERROR(observe(*observer, l + 1, x, n));
  }
  DSV3_RETURN_IF_ERROR(be_.rmsnorm(x, hidden, w.final_norm, n, eps, final_out, hidden));
  if (observer) DSV3_RETURN_IF_ERROR(observe(*observer, c.num_hidden_layers, final_out, n));
  return {};
}

Status Transformer::observe(const LayerObserver& observer, int64_t k, const float* x, int64_t n) {
  if (be_.host_memory()) {
    observer(k, x, n);
    return {};
  }
  observed_.resize(static_cast<std::size_t>(n * model_.config.hidden_size));
  DSV3_RETURN_IF_ERROR(be_.download(x, observed_.data(), static_cast<int64_t>(observed_.size() * sizeof(float))));
  DSV3_RETURN_IF_ERROR(be_.finish());
  observer(k, observed_.data(), n);
  return {};
}

Status Transformer::sum_parts(float* x, int64_t count) {
  DSV3_RETURN_IF_ERROR(be_.finish());
  return dist::sum_over_ranks(*comm_, x, count, parts_);
}

// Tensor parallel: each rank's rows of the lm_head give its slice of the
// vocabulary; rank 0 gathers the slices into whole rows.
Status Transformer::split_logits(const float* hidden, int64_t n, float* out) {
  const ModelConfig& c = model_.config;
  if (comm_ == nullptr) return make_error("logits: a split model runs with its job's communicator");
  const int ranks = comm_->size();
  const int64_t mine = model_.weights.vocab.size();
  local_logits_.resize(static_cast<std::size_t>(std::max<int64_t>(1, n * mine)));
  if (mine > 0) {
    const ops::MatmulJob head{model_.weights.lm_head, hidden, c.hidden_size, n, local_logits_.data(), mine};
    DSV3_RETURN_IF_ERROR(be_.matmul({&head, 1}, ops::Precision::kExact));
  }
  gather_counts_.resize(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r)
    gather_counts_[static_cast<std::size_t>(r)] = n * plan_shard(c, {r, ranks, model_.shard.layout}, 1).vocab.size();
  const bool root = comm_->rank() == 0;
  if (root) gathered_logits_.resize(static_cast<std::size_t>(n * c.vocab_size));
  DSV3_RETURN_IF_ERROR(comm_->gather(local_logits_.data(), gather_counts_, root ? gathered_logits_.data() : nullptr));
  if (!root) return {};
  // [rank][token][its slice] -> [token][vocab]
  int64_t at = 0;
  for (int r = 0; r < ranks; ++r) {
    const IndexRange v = plan_shard(c, {r, ranks, model_.shard.layout}, 1).vocab;
    for (int64_t t = 0; t < n; ++t)
      std::memcpy(out + t * c.vocab_size + v.begin, gathered_logits_.data() + at + t * v.size(),
                  static_cast<std::size_t>(v.size()) * sizeof(float));
    at += n * v.size();
  }
  return {};
}

Status Transformer::logits(const float* hidden, int64_t n, float* out) {
  const ModelConfig& c = model_.config;
  if (n <= 0) return {};
  if (model_.shard.tensor_parallel()) return split_logits(hidden, n, out);
  if (!model_.weights.head_here) return make_error("logits: rank {} does not hold the lm_head", model_.shard.rank);
  const float* h = hidden;
  float* o = out;
  if (!be_.host_memory()) {
    DSV3_ASSIGN_OR_RETURN(float* dh, be_.scratch_as<float>(kLogitsIn, n * c.hidden_size));
    DSV3_RETURN_IF_ERROR(be_.upload(hidden, dh, n * c.hidden_size * static_cast<int64_t>(sizeof(float))));
    DSV3_ASSIGN_OR_RETURN(o, be_.scratch_as<float>(kLogitsOut, n * c.vocab_size));
    h = dh;
  }
  const ops::MatmulJob head{model_.weights.lm_head, h, c.hidden_size, n, o, c.vocab_size};
  DSV3_RETURN_IF_ERROR(be_.matmul({&head, 1}, ops::Precision::kExact));
  if (!be_.host_memory())
    DSV3_RETURN_IF_ERROR(be_.download(o, out, n * c.vocab_size * static_cast<int64_t>(sizeof(float))));
  return be_.finish();
}

}  // namespace dsv3
