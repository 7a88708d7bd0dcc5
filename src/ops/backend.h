// The operations a model is written against, implemented once per device
// (the CPU here, a GPU elsewhere). A model asks its backend for scratch,
// names the tokens of a forward pass with begin_batch, then issues ops on
// pointers into that scratch; the backend decides how and where they run.
// Weights are passed as their stored host views (ops::Matrix, 1-D float
// spans): a device backend finds its own copy of them.
//
// Nothing here knows a particular model: attention over cached rows, routing
// and expert products are written for any shape.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/status.h"
#include "ops/matmul.h"
#include "ops/matrix.h"
#include "ops/rope.h"
#include "ops/routing.h"
#include "ops/row_cache.h"

namespace dsv3::ops {

// Where one token of a batch lives: its position in its sequence, whose rows
// the cache holds (positions before it already stored).
struct TokenPlace {
  int64_t pos = 0;
  RowCache* cache = nullptr;
};

// A weight cut into `groups` equal row blocks (attention heads): group g is
// rows [row0 + g * row_step, + rows) of w. For each of n tokens and each
// group, y_g = x_g W_g^T, or with `transposed`, y_g = x_g W_g (x_g has
// `rows` entries and y_g w.cols). Token i, group g: x + i * ldx + g * x_step,
// y + i * ldy + g * y_step.
struct GroupedProduct {
  Matrix w;
  int64_t groups = 1, row0 = 0, row_step = 0, rows = 0;
  bool transposed = false;
  const float* x = nullptr;
  int64_t ldx = 0, x_step = 0;
  float* y = nullptr;
  int64_t ldy = 0, y_step = 0;
  int64_t n = 0;
};

// Each token of the batch attends with its `heads` query rows (width = the
// cache's width, rows contiguous) to its own cache's rows of `layer` at
// positions [0, pos] (causal); a value is the first dv entries of a row.
// out: [n][heads][dv].
struct CachedAttention {
  const float* q = nullptr;
  int64_t heads = 0;
  int64_t layer = 0;
  int64_t dv = 0;
  float scale = 1.0f;
  float* out = nullptr;
};

// A SwiGLU MLP: down(silu(gate x) * up x).
struct GatedMlp {
  Matrix gate, up, down;
};

// out[i] = shared(x_i) + sum_k weights[i][k] * experts[ids[i][k]](x_i) for
// the n rows of x (the shared MLP optional: without it the sum starts at 0).
// Only the experts in [first, end) are computed here (the others are held
// elsewhere, their views may be empty): slots routed outside are skipped.
struct ExpertMix {
  std::span<const GatedMlp> experts;
  int64_t first = 0, end = -1;  // end -1: all of them
  const GatedMlp* shared = nullptr;
  const float* x = nullptr;  // [n][hidden]
  int64_t hidden = 0;        // 0: the experts' own width (then one must be held here)
  int64_t n = 0, top_k = 0;
  const int32_t* ids = nullptr;      // [n][top_k]
  const float* weights = nullptr;    // [n][top_k]
  float* out = nullptr;              // [n][hidden]
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string device() const = 0;  // "cpu", "cuda:0", ...
  // Whether the backend computes on host memory: then host pointers may be
  // passed to ops directly, without upload or download.
  virtual bool host_memory() const = 0;

  // An empty row cache in this backend's memory (see RowCache).
  virtual std::unique_ptr<RowCache> make_cache(int64_t layers, int64_t width, DType dtype) const = 0;

  // Scratch of at least `bytes`, numbered by the caller: the same slot is
  // reused (grown when asked for more), so steady state allocates nothing.
  // Growing a slot invalidates its earlier pointer only.
  virtual Result<void*> scratch(int slot, int64_t bytes) = 0;
  template <class T>
  Result<T*> scratch_as(int slot, int64_t count) {
    DSV3_ASSIGN_OR_RETURN(void* p, scratch(slot, count * static_cast<int64_t>(sizeof(T))));
    return static_cast<T*>(p);
  }
  virtual Status upload(const void* host, void* device, int64_t bytes) = 0;
  virtual Status download(const void* device, void* host, int64_t bytes) = 0;

  // The tokens of the coming ops (their ids and places); caches must have
  // room for each token's position and be this backend's.
  virtual Status begin_batch(std::span<const int32_t> ids, std::span<const TokenPlace> places) = 0;
  // Waits until the ops issued so far are done (a device queue).
  virtual Status finish() = 0;

  // out[i] = row ids[i] of table, as f32 (rows table.cols apart).
  virtual Status embed(const Matrix& table, float* out) = 0;
  // rows of x (ldx apart, weight.size() wide) normalised into out (ldo apart; may alias x).
  virtual Status rmsnorm(const float* x, int64_t ldx, std::span<const float> weight, int64_t rows, float eps,
                         float* out, int64_t ldo) = 0;
  // Independent products y = x W^T (see matmul_batch).
  virtual Status matmul(std::span<const MatmulJob> jobs, Precision precision) = 0;
  virtual Status grouped_matmul(const GroupedProduct& g, Precision precision) = 0;
  // Rotates per_token rows (ld apart, rope.dim() wide) of each batch token to its position.
  virtual Status rope(const Rope& rope, float* x, int64_t ld, int64_t per_token) = 0;
  // y[r][0:cols] = x[r][0:cols] for rows rows (x rows ldx apart, y rows ldy apart).
  virtual Status copy(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y, int64_t ldy) = 0;
  // Stores each batch token's row (rows ld apart, the cache's width) at its position of `layer`.
  virtual Status cache_store(int64_t layer, const float* rows, int64_t ld) = 0;
  virtual Status cached_attention(const CachedAttention& a) = 0;
  // Routes n tokens: logits [n][r.experts] -> ids, weights [n][r.top_k] (bias may be empty).
  virtual Status route(const TopKRouting& r, const float* logits, int64_t n, std::span<const float> bias,
                       int32_t* ids, float* weights) = 0;
  virtual Status experts(const ExpertMix& m, Precision precision) = 0;
  virtual Status silu_mul(const float* gate, const float* up, int64_t n, float* out) = 0;
  virtual Status add(const float* x, float* y, int64_t n) = 0;  // y += x
};

}  // namespace dsv3::ops
