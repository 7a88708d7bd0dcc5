// CudaForward: the DeepSeek-V3 forward pass on one GPU, step for step the
// model's (model/transformer.cpp, mla.cpp, moe.cpp). Weights stay in their
// stored dtype; activations are f32; the hidden states come back to the host.
// It still orchestrates the layers itself: porting it to an ops::Backend, so
// that the model is written once for every device, needs a GPU to verify it
// (docs/architecture.md, the CUDA issue).
#include "cuda/cuda_forward.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "cuda/check.h"
#include "cuda/device_buffer.h"
#include "cuda/device_cache.h"
#include "cuda/device_weights.h"
#include "cuda/graph_cache.h"
#include "cuda/kernels.h"
#include "cuda/op_timer.h"
#include "cuda/switches.h"
#include "model/mla.h"
#include "ops/routing.h"
#include "ops/rope.h"

namespace dsv3::cuda {
namespace {

class CudaForward : public ForwardPass {
 public:
  CudaForward(const Model& model, int device) : model_(model), device_(device), rope_(mla_rope(model.config)) {}

  Status init();
  const ModelConfig& config() const override { return model_.config; }
  std::string device() const override { return fmt::format("cuda:{}", device_); }
  LatentCache make_cache(int64_t capacity, DType dtype) const override;
  using ForwardPass::forward;
  Status forward(std::span<const SequenceChunk> batch, float* hidden_out, const LayerObserver* observer) override;
  Status logits(const float* hidden, int64_t n, float* out) override;

 private:
  // Scratch for up to n tokens (only grows; growth drops the captured graphs).
  Status ensure(int64_t n);
  // Every kernel of a forward pass over the n tokens already in ids_/slots_,
  // from the embedding to the final norm (into out_): what a graph captures.
  // With an observer (never captured), the residual stream goes to the host
  // after each layer.
  Status enqueue_layers(int64_t n, const LayerObserver* observer = nullptr);
  Status observe(const LayerObserver& observer, int64_t k, const float* x, int64_t n);
  Status gemm(const DMat& w, const float* x, int64_t n, float* out);
  Status swiglu(const DeviceSwiGlu& w, const float* x, int64_t n, float* out);
  Status attention(const DeviceLayer& d, int64_t layer, int64_t n);
  Status moe(const DeviceLayer& d, int64_t n);
  Status run_logits(const float* hidden, int64_t n, float* out);

  const Model& model_;
  int device_;
  ops::Rope rope_;
  Stream stream_;
  std::unique_ptr<DeviceWeights> w_;
  DeviceBuffer inv_freq_;
  int64_t mlp_width_ = 0;  // widest dense or shared-expert MLP

  int64_t cap_ = 0;  // tokens the scratch holds
  DeviceBuffer x_, xn_, y_, out_, qa_, q_, kv_, q_abs_, lat_, heads_, g_, u_;
  DeviceBuffer rlog_, experts_, rw_, offsets_, active_, row_of_slot_, token_of_row_, xs_, gs_, us_, ys_, ids_, slots_;
  int sms_ = 0;                 // multiprocessors: sizes the attention split
  bool fast_ = false;           // DSV3_CUDA_FAST
  bool graphs_ = false;         // DSV3_CUDA_GRAPHS
  static constexpr int64_t kGraphMaxN = 64;  // decode-sized steps are captured; prefill runs eagerly
  DeviceBuffer attn_scratch_;
  int64_t attn_scratch_floats_ = 0;
  GraphCache graphs_cache_;
  OpTimer timer_;  // DSV3_CUDA_PROFILE
  int64_t logits_cap_ = 0;
  DeviceBuffer lh_, lo_;
  std::vector<TokenSlot> host_slots_;
  std::vector<int32_t> host_ids_;
  std::vector<float> observed_;
};

Status CudaForward::init() {
  const ModelConfig& c = model_.config;
  if (c.kv_lora_rank > 512) return make_error("--device cuda: kv_lora_rank {} > 512 is not supported", c.kv_lora_rank);
  static_assert(kRouteMaxExperts == ops::kMaxRoutedExperts, "the CPU and GPU routers hold the same experts");
  if (c.n_routed_experts > kRouteMaxExperts || c.n_group > kRouteMaxGroups)
    return make_error("--device cuda: {} experts in {} groups is more than the router kernel holds ({}, {})",
                      c.n_routed_experts, c.n_group, kRouteMaxExperts, kRouteMaxGroups);
  if (c.qk_rope_head_dim % 2 != 0) return make_error("--device cuda: odd qk_rope_head_dim {}", c.qk_rope_head_dim);
  DSV3_CUDA_TRY(cudaSetDevice(device_));
  DSV3_CUDA_TRY(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, device_));
  fast_ = fast_kernels();
  graphs_ = cuda_graphs() && !timer_.on();  // the profile times ops one by one
  DSV3_RETURN_IF_ERROR(stream_.create());
  DSV3_ASSIGN_OR_RETURN(w_, DeviceWeights::upload(model_));
  const std::vector<float>& f = rope_.inv_freq();
  DSV3_RETURN_IF_ERROR(inv_freq_.reserve(std::max<std::size_t>(1, f.size()) * sizeof(float)));
  if (!f.empty()) DSV3_CUDA_TRY(cudaMemcpy(inv_freq_.get(), f.data(), f.size() * sizeof(float), cudaMemcpyHostToDevice));
  for (const LayerWeights& lw : model_.weights.layers) {
    if (!lw.is_moe) mlp_width_ = std::max(mlp_width_, lw.mlp.gate.rows);
    if (lw.is_moe && lw.moe.has_shared) mlp_width_ = std::max(mlp_width_, lw.moe.shared.gate.rows);
  }
  return {};
}

LatentCache CudaForward::make_cache(int64_t capacity, DType dtype) const {
  const ModelConfig& c = model_.config;
  const DType dt = dtype == DType::F16 ? DType::F16 : DType::F32;
  auto store = std::make_unique<DeviceCacheStore>(this, device_, c.num_hidden_layers, c.cache_width(), dt);
  // a failed reservation here is reported by the forward pass that needs the room
  if (capacity > 0) (void)store->reserve(capacity);
  return LatentCache(std::move(store));
}

Status CudaForward::ensure(int64_t n) {
  const ModelConfig& c = model_.config;
  if (fast_) {
    const int64_t nh = c.num_attention_heads;
    const int splits = attention_splits(n, nh, sms_);
    const int64_t need = splits > 1 ? attention_split_scratch_floats(n, nh, c.kv_lora_rank, splits) : 0;
    if (need > attn_scratch_floats_) {
      graphs_cache_.clear();
      DSV3_RETURN_IF_ERROR(attn_scratch_.reserve(static_cast<std::size_t>(need) * sizeof(float)));
      attn_scratch_floats_ = need;
    }
  }
  if (n <= cap_) return {};
  graphs_cache_.clear();
  const int64_t m = std::max(n, cap_ * 2);
  const auto f = [m](int64_t per_token) { return static_cast<std::size_t>(m * std::max<int64_t>(per_token, 1)) * 4; };
  const int64_t nh = c.num_attention_heads, k = std::max<int64_t>(c.num_experts_per_tok, 1);
  DSV3_RETURN_IF_ERROR(x_.reserve(f(c.hidden_size)));
  DSV3_RETURN_IF_ERROR(xn_.reserve(f(c.hidden_size)));
  DSV3_RETURN_IF_ERROR(y_.reserve(f(c.hidden_size)));
  DSV3_RETURN_IF_ERROR(out_.reserve(f(c.hidden_size)));
  DSV3_RETURN_IF_ERROR(qa_.reserve(f(c.q_lora_rank)));
  DSV3_RETURN_IF_ERROR(q_.reserve(f(nh * c.qk_head_dim())));
  DSV3_RETURN_IF_ERROR(kv_.reserve(f(c.cache_width())));
  DSV3_RETURN_IF_ERROR(q_abs_.reserve(f(nh * c.cache_width())));
  DSV3_RETURN_IF_ERROR(lat_.reserve(f(nh * c.kv_lora_rank)));
  DSV3_RETURN_IF_ERROR(heads_.reserve(f(nh * c.v_head_dim)));
  DSV3_RETURN_IF_ERROR(g_.reserve(f(mlp_width_)));
  DSV3_RETURN_IF_ERROR(u_.reserve(f(mlp_width_)));
  DSV3_RETURN_IF_ERROR(rlog_.reserve(f(c.n_routed_experts)));
  DSV3_RETURN_IF_ERROR(experts_.reserve(f(k)));
  DSV3_RETURN_IF_ERROR(rw_.reserve(f(k)));
  DSV3_RETURN_IF_ERROR(offsets_.reserve(static_cast<std::size_t>(c.n_routed_experts + 1) * 4));
  DSV3_RETURN_IF_ERROR(active_.reserve(static_cast<std::size_t>(std::max<int64_t>(c.n_routed_experts, 1)) * 4));
  DSV3_RETURN_IF_ERROR(row_of_slot_.reserve(f(k)));
  DSV3_RETURN_IF_ERROR(token_of_row_.reserve(f(k)));
  DSV3_RETURN_IF_ERROR(xs_.reserve(f(k * c.hidden_size)));
  DSV3_RETURN_IF_ERROR(gs_.reserve(f(k * c.moe_intermediate_size)));
  DSV3_RETURN_IF_ERROR(us_.reserve(f(k * c.moe_intermediate_size)));
  DSV3_RETURN_IF_ERROR(ys_.reserve(f(k * c.hidden_size)));
  DSV3_RETURN_IF_ERROR(ids_.reserve(f(1)));
  DSV3_RETURN_IF_ERROR(slots_.reserve(static_cast<std::size_t>(m) * sizeof(TokenSlot)));
  cap_ = m;
  return {};
}

Status CudaForward::gemm(const DMat& w, const float* x, int64_t n, float* out) {
  GemmArgs a;
  a.w = w;
  a.rows = w.rows;
  a.cols = w.cols;
  a.x = x;
  a.ldx = w.cols;
  a.out = out;
  a.ldo = w.rows;
  a.n = n;
  DSV3_CUDA_TRY(launch_gemm(a, stream_.get()));
  return {};
}

Status CudaForward::swiglu(const DeviceSwiGlu& w, const float* x, int64_t n, float* out) {
  const int64_t width = w.gate.rows;
  float* g = g_.as<float>();
  float* u = u_.as<float>();
  GemmArgs a;  // gate and up in one launch
  a.w = w.gate;
  a.w2 = w.up;
  a.rows = width;
  a.cols = w.gate.cols;
  a.x = x;
  a.ldx = w.gate.cols;
  a.out = g;
  a.out2 = u;
  a.ldo = width;
  a.n = n;
  DSV3_CUDA_TRY(launch_gemm(a, stream_.get()));
  DSV3_CUDA_TRY(launch_silu_mul(g, u, n * width, g, stream_.get()));
  return gemm(w.down, g, n, out);
}

Status CudaForward::attention(const DeviceLayer& d, int64_t layer, int64_t n) {
  const ModelConfig& c = model_.config;
  const int64_t nh = c.num_attention_heads, nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim;
  const int64_t lora = c.kv_lora_rank, cw = c.cache_width(), vd = c.v_head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  cudaStream_t s = stream_.get();
  const float* xn = xn_.as<float>();
  float* q = q_.as<float>();
  if (d.q_lora) {
    float* qa = qa_.as<float>();
    timer_.mark("attn q_a", s);
    DSV3_RETURN_IF_ERROR(gemm(d.q_a, xn, n, qa));
    timer_.mark("attn q_a norm", s);
    DSV3_CUDA_TRY(launch_rmsnorm(qa, c.q_lora_rank, d.q_a_norm, n, c.q_lora_rank, eps, qa, c.q_lora_rank, s));
    timer_.mark("attn q_b", s);
    DSV3_RETURN_IF_ERROR(gemm(d.q_b, qa, n, q));
  } else {
    timer_.mark("attn q", s);
    DSV3_RETURN_IF_ERROR(gemm(d.q, xn, n, q));
  }
  float* kv = kv_.as<float>();
  timer_.mark("attn kv_a", s);
  DSV3_RETURN_IF_ERROR(gemm(d.kv_a, xn, n, kv));
  const auto* slots = slots_.as<const TokenSlot>();
  const float* inv_freq = inv_freq_.as<const float>();
  float* q_abs = q_abs_.as<float>();
  // the new cache rows, and the queries' rope parts rotated into q_abs
  const QRope q_rope{q, nh, nope, q_abs};
  timer_.mark("attn kv store + q rope", s);
  DSV3_CUDA_TRY(launch_kv_store(kv, n, lora, cw, d.kv_a_norm, eps, inv_freq, rope_.attention_factor(), slots, layer,
                                q_rope, s));
  // the absorbed queries' latent parts: q_nope(h) W_uk(h), one product per head
  GemmArgs ab;
  ab.w = d.uk_t;
  ab.rows = lora;
  ab.cols = nope;
  ab.w_row_step = lora;
  ab.x = q;
  ab.ldx = nh * (nope + rope);
  ab.x_group_step = nope + rope;
  ab.out = q_abs;
  ab.ldo = nh * cw;
  ab.out_group_step = cw;
  ab.n = n;
  ab.groups = static_cast<int>(nh);
  timer_.mark("attn absorb (W_uk)", s);
  DSV3_CUDA_TRY(launch_gemm(ab, s));
  float* lat = lat_.as<float>();
  const int splits = fast_ ? attention_splits(n, nh, sms_) : 1;
  timer_.mark("attn attention", s);
  if (splits > 1) {
    DSV3_CUDA_TRY(launch_mla_attention_split(q_abs, n, nh, cw, lora, static_cast<float>(c.softmax_scale()), slots,
                                             layer, splits, attn_scratch_.as<float>(), attn_scratch_floats_, lat, s));
  } else {
    DSV3_CUDA_TRY(launch_mla_attention(q_abs, n, nh, cw, lora, static_cast<float>(c.softmax_scale()), slots, layer,
                                       lat, s));
  }
  // values: each head's latent output through its W_uv (kv_b rows h * (nope + vd) + nope ..)
  GemmArgs a;
  a.w = d.kv_b;
  a.w.row0 += nope;
  a.rows = vd;
  a.cols = lora;
  a.w_row_step = nope + vd;
  a.x = lat;
  a.ldx = nh * lora;
  a.x_group_step = lora;
  a.out = heads_.as<float>();
  a.ldo = nh * vd;
  a.out_group_step = vd;
  a.n = n;
  a.groups = static_cast<int>(nh);
  timer_.mark("attn W_uv", s);
  DSV3_CUDA_TRY(launch_gemm(a, s));
  timer_.mark("attn o_proj", s);
  return gemm(d.o, heads_.as<float>(), n, y_.as<float>());
}

Status CudaForward::moe(const DeviceLayer& d, int64_t n) {
  const ModelConfig& c = model_.config;
  const int64_t hidden = c.hidden_size, ne = c.n_routed_experts, k = c.num_experts_per_tok;
  const int64_t width = c.moe_intermediate_size;
  cudaStream_t s = stream_.get();
  const float* xn = xn_.as<float>();
  float* y = y_.as<float>();
  float* rlog = rlog_.as<float>();
  timer_.mark("moe router", s);
  DSV3_RETURN_IF_ERROR(gemm(d.router, xn, n, rlog));
  RouteParams rp;
  rp.experts = ne;
  rp.groups = c.n_group;
  rp.topk_group = c.topk_group;
  rp.top_k = k;
  rp.norm_topk_prob = c.norm_topk_prob ? 1 : 0;
  rp.routed_scaling_factor = static_cast<float>(c.routed_scaling_factor);
  auto* experts = experts_.as<int32_t>();
  auto* rw = rw_.as<float>();
  timer_.mark("moe route", s);
  DSV3_CUDA_TRY(launch_route(rlog, d.router_bias, n, rp, experts, rw, s));
  auto* offsets = offsets_.as<int32_t>();
  auto* row_of_slot = row_of_slot_.as<int32_t>();
  auto* token_of_row = token_of_row_.as<int32_t>();
  auto* active = active_.as<int32_t>();
  timer_.mark("moe group", s);
  DSV3_CUDA_TRY(launch_group_by_expert(experts, n * k, k, ne, offsets, row_of_slot, token_of_row, active, s));
  float* xs = xs_.as<float>();
  timer_.mark("moe gather", s);
  DSV3_CUDA_TRY(launch_gather_rows(xn, token_of_row, n * k, hidden, xs, s));
  // every expert over its own rows in one launch each (a grouped GEMM)
  auto grouped = [&](const DMat* tab, int64_t rows, int64_t cols, const float* x, float* out, const DMat* tab2 = nullptr,
                     float* out2 = nullptr) -> Status {
    GemmArgs a;
    a.wtab = tab;
    a.wtab2 = tab2;
    a.out2 = out2;
    a.w2 = d.expert_like;
    a.w = d.expert_like;
    a.rows = rows;
    a.cols = cols;
    a.x = x;
    a.ldx = cols;
    a.out = out;
    a.ldo = rows;
    a.n = n;  // an expert gets at most one row per token
    a.offsets = offsets;
    a.groups = static_cast<int>(ne);
    a.active = active;  // only the chosen experts: at most n * k of them
    a.active_slots = static_cast<int>(std::min<int64_t>(ne, n * k));
    DSV3_CUDA_TRY(launch_gemm(a, s));
    return {};
  };
  float* gs = gs_.as<float>();
  float* us = us_.as<float>();
  float* ys = ys_.as<float>();
  timer_.mark("moe experts gate + up", s);
  DSV3_RETURN_IF_ERROR(grouped(d.gate_tab, width, hidden, xs, gs, d.up_tab, us));
  timer_.mark("moe experts silu", s);
  DSV3_CUDA_TRY(launch_silu_mul(gs, us, n * k * width, gs, s));
  timer_.mark("moe experts down", s);
  DSV3_RETURN_IF_ERROR(grouped(d.down_tab, hidden, width, gs, ys));
  // shared experts write y, the routed experts add to it
  timer_.mark("moe shared expert", s);
  if (d.has_shared) {
    DSV3_RETURN_IF_ERROR(swiglu(d.shared, xn, n, y));
  } else {
    DSV3_CUDA_TRY(cudaMemsetAsync(y, 0, static_cast<std::size_t>(n * hidden) * sizeof(float), s));
  }
  timer_.mark("moe combine", s);
  DSV3_CUDA_TRY(launch_moe_combine(ys, row_of_slot, rw, n, k, hidden, y, s));
  return {};
}

Status CudaForward::forward(std::span<const SequenceChunk> batch, float* hidden_out, const LayerObserver* observer) {
  const ModelConfig& c = model_.config;
  const int64_t hidden = c.hidden_size;
  DSV3_ASSIGN_OR_RETURN(const int64_t n, check_batch(c, batch));
  for (const SequenceChunk& s : batch)
    if (s.cache->rows().owner() != this)
      return make_error("forward: the cache is not a {} cache (make it with this model's make_cache)", device());
  if (n == 0) return {};
  DSV3_CUDA_TRY(cudaSetDevice(device_));
  host_slots_.clear();
  host_ids_.clear();
  for (const SequenceChunk& s : batch) {
    if (s.ids.empty()) continue;
    const int64_t end = s.start + static_cast<int64_t>(s.ids.size());
    if (Status st = s.cache->reserve(end); !st) return make_error("forward: growing a device cache: {}", st.error().message);
    // this backend's own cache (its owner is this object): the cast is safe
    auto* store = static_cast<DeviceCacheStore*>(&s.cache->rows());
    for (std::size_t i = 0; i < s.ids.size(); ++i) {
      TokenSlot t;
      t.cache = store->data();
      t.capacity = store->capacity();
      t.pos = s.start + static_cast<int64_t>(i);
      t.f16 = store->f16() ? 1 : 0;
      host_slots_.push_back(t);
      host_ids_.push_back(s.ids[i]);
    }
  }
  DSV3_RETURN_IF_ERROR(ensure(n));
  cudaStream_t st = stream_.get();
  DSV3_CUDA_TRY(cudaMemcpyAsync(ids_.get(), host_ids_.data(), static_cast<std::size_t>(n) * sizeof(int32_t),
                                cudaMemcpyHostToDevice, st));
  DSV3_CUDA_TRY(cudaMemcpyAsync(slots_.get(), host_slots_.data(), static_cast<std::size_t>(n) * sizeof(TokenSlot),
                                cudaMemcpyHostToDevice, st));
  if (observer) {
    DSV3_RETURN_IF_ERROR(enqueue_layers(n, observer));
  } else if (graphs_ && n <= kGraphMaxN) {
    DSV3_RETURN_IF_ERROR(graphs_cache_.run(n, st, [this, n] { return enqueue_layers(n); }));
  } else {
    DSV3_RETURN_IF_ERROR(enqueue_layers(n));
  }
  if (timer_.on()) timer_.finish(fmt::format("forward, {} token(s)", n), st);
  float* out = out_.as<float>();
  DSV3_CUDA_TRY(cudaMemcpyAsync(hidden_out, out, static_cast<std::size_t>(n * hidden) * sizeof(float),
                                cudaMemcpyDeviceToHost, st));
  DSV3_CUDA_TRY(cudaStreamSynchronize(st));
  mark_written(batch);
  return {};
}

Status CudaForward::observe(const LayerObserver& observer, int64_t k, const float* x, int64_t n) {
  const int64_t floats = n * model_.config.hidden_size;
  observed_.resize(static_cast<std::size_t>(floats));
  DSV3_CUDA_TRY(cudaMemcpyAsync(observed_.data(), x, static_cast<std::size_t>(floats) * sizeof(float),
                                cudaMemcpyDeviceToHost, stream_.get()));
  DSV3_CUDA_TRY(cudaStreamSynchronize(stream_.get()));
  observer(k, observed_.data(), n);
  return {};
}

Status CudaForward::enqueue_layers(int64_t n, const LayerObserver* observer) {
  const ModelConfig& c = model_.config;
  const int64_t hidden = c.hidden_size;
  cudaStream_t st = stream_.get();
  const float eps = static_cast<float>(c.rms_norm_eps);
  float* x = x_.as<float>();
  float* xn = xn_.as<float>();
  float* y = y_.as<float>();
  timer_.mark("embed", st);
  DSV3_CUDA_TRY(launch_embed(w_->embed, ids_.as<const int32_t>(), n, x, st));
  if (observer) DSV3_RETURN_IF_ERROR(observe(*observer, 0, x, n));
  const std::size_t layers = w_->layers.size();
  timer_.mark("norm", st);
  if (layers == 0) {
    DSV3_CUDA_TRY(launch_rmsnorm(x, hidden, w_->final_norm, n, hidden, eps, out_.as<float>(), hidden, st));
  } else {
    DSV3_CUDA_TRY(launch_rmsnorm(x, hidden, w_->layers[0].attn_norm, n, hidden, eps, xn, hidden, st));
  }
  // each residual add is fused with the norm that reads its sum: the
  // block's own second norm, then the next layer's first (or the final norm)
  for (std::size_t l = 0; l < layers; ++l) {
    const DeviceLayer& d = w_->layers[l];
    DSV3_RETURN_IF_ERROR(attention(d, static_cast<int64_t>(l), n));
    timer_.mark("add + norm", st);
    DSV3_CUDA_TRY(launch_add_rmsnorm(x, y, d.mlp_norm, n, hidden, eps, xn, st));
    if (d.is_moe) {
      DSV3_RETURN_IF_ERROR(moe(d, n));
    } else {
      timer_.mark("dense mlp", st);
      DSV3_RETURN_IF_ERROR(swiglu(d.mlp, xn, n, y));
    }
    const bool last = l + 1 == layers;
    timer_.mark("add + norm", st);
    DSV3_CUDA_TRY(launch_add_rmsnorm(x, y, last ? w_->final_norm : w_->layers[l + 1].attn_norm, n, hidden, eps,
                                     last ? out_.as<float>() : xn, st));
    if (observer && !last) DSV3_RETURN_IF_ERROR(observe(*observer, static_cast<int64_t>(l) + 1, x, n));
  }
  if (observer) DSV3_RETURN_IF_ERROR(observe(*observer, c.num_hidden_layers, out_.as<float>(), n));
  return {};
}

Status CudaForward::run_logits(const float* hidden, int64_t n, float* out) {
  const ModelConfig& c = model_.config;
  DSV3_CUDA_TRY(cudaSetDevice(device_));
  if (n > logits_cap_) {
    DSV3_RETURN_IF_ERROR(lh_.reserve(static_cast<std::size_t>(n * c.hidden_size) * sizeof(float)));
    DSV3_RETURN_IF_ERROR(lo_.reserve(static_cast<std::size_t>(n * c.vocab_size) * sizeof(float)));
    logits_cap_ = n;
  }
  cudaStream_t st = stream_.get();
  DSV3_CUDA_TRY(cudaMemcpyAsync(lh_.get(), hidden, static_cast<std::size_t>(n * c.hidden_size) * sizeof(float),
                                cudaMemcpyHostToDevice, st));
  timer_.mark("lm_head", st);
  DSV3_RETURN_IF_ERROR(gemm(w_->lm_head, lh_.as<const float>(), n, lo_.as<float>()));
  if (timer_.on()) timer_.finish(fmt::format("logits, {} row(s)", n), st);
  DSV3_CUDA_TRY(cudaMemcpyAsync(out, lo_.get(), static_cast<std::size_t>(n * c.vocab_size) * sizeof(float),
                                cudaMemcpyDeviceToHost, st));
  DSV3_CUDA_TRY(cudaStreamSynchronize(st));
  return {};
}

Status CudaForward::logits(const float* hidden, int64_t n, float* out) {
  if (n <= 0) return {};
  if (Status st = run_logits(hidden, n, out); !st)
    return make_error("logits on {}: {}", device(), st.error().message);
  return {};
}

}  // namespace

bool available(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    if (why) *why = fmt::format("no usable CUDA device: {} ({})", cudaGetErrorString(e), cudaGetErrorName(e));
    cudaGetLastError();  // clear it
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  return true;
}

Result<std::unique_ptr<ForwardPass>> make_forward(const Model& model, int device) {
  std::string why;
  if (!available(&why)) return make_error("--device cuda: {}", why);
  int count = 0;
  DSV3_CUDA_TRY(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count) return make_error("--device cuda:{}: this machine has {} CUDA device(s)", device, count);
  auto f = std::make_unique<CudaForward>(model, device);
  DSV3_RETURN_IF_ERROR(f->init());
  return std::unique_ptr<ForwardPass>(std::move(f));
}

Result<double> copy_bandwidth_gbps(int device, int64_t bytes) {
  std::string why;
  if (!available(&why)) return make_error("GPU bandwidth: {}", why);
  DSV3_CUDA_TRY(cudaSetDevice(device));
  DeviceBuffer a, b;
  DSV3_RETURN_IF_ERROR(a.reserve(static_cast<std::size_t>(bytes)));
  DSV3_RETURN_IF_ERROR(b.reserve(static_cast<std::size_t>(bytes)));
  DSV3_CUDA_TRY(cudaMemset(a.get(), 1, static_cast<std::size_t>(bytes)));
  cudaEvent_t start = nullptr, stop = nullptr;
  DSV3_CUDA_TRY(cudaEventCreate(&start));
  DSV3_CUDA_TRY(cudaEventCreate(&stop));
  constexpr int kReps = 20;
  float ms = 0.0f;
  Status st = [&]() -> Status {
    DSV3_CUDA_TRY(cudaMemcpy(b.get(), a.get(), static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice));  // warm-up
    DSV3_CUDA_TRY(cudaEventRecord(start));
    for (int i = 0; i < kReps; ++i)
      DSV3_CUDA_TRY(cudaMemcpyAsync(b.get(), a.get(), static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice));
    DSV3_CUDA_TRY(cudaEventRecord(stop));
    DSV3_CUDA_TRY(cudaEventSynchronize(stop));
    DSV3_CUDA_TRY(cudaEventElapsedTime(&ms, start, stop));
    return {};
  }();
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  DSV3_RETURN_IF_ERROR(st);
  // a copy reads and writes every byte
  return 2.0 * static_cast<double>(bytes) * kReps / (static_cast<double>(ms) / 1e3) / 1e9;
}

}  // namespace dsv3::cuda
