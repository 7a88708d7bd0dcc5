// CpuBackend::cached_attention: every (token, head) over its cache's rows, or,
// with fewer tokens than threads and long caches (decode), each token's keys
// split over the threads and the partial softmaxes merged.
#include <algorithm>
#include <limits>

#include "base/thread_pool.h"
#include "ops/attention.h"
#include "ops/cpu_backend.h"

namespace dsv3::ops {

namespace {
constexpr int64_t kMinKeysPerPart = 256;  // below this, splitting one query's keys costs more than it saves
}

Status CpuBackend::cached_attention(const CachedAttention& ca) {
  const int64_t n = static_cast<int64_t>(places_.size());
  if (n == 0) return {};
  const int64_t nh = ca.heads, width = places_[0].cache->width(), dv = ca.dv;
  const int64_t per_thread = shared_kv_attention_scratch(nh);
  float* scratch = buffer(attn_scratch_, per_thread * pool_->size());
  const auto attention = [&](int64_t i, int64_t h0, int64_t h1) {  // token i, heads [h0, h1)
    SharedKvAttention a;
    a.q = ca.q + (i * nh + h0) * width;
    a.ldq = width;
    a.nq = h1 - h0;
    const HostRowCache& cache = cache_of(i);
    a.kv = cache.row(ca.layer, 0);
    a.kv_dtype = cache.dtype();
    a.ldkv = width;
    a.n_kv = places_[i].pos + 1;  // causal: itself and everything before
    a.dk = width;
    a.dv = dv;
    a.scale = ca.scale;
    a.out = ca.out + (i * nh + h0) * dv;
    a.ldo = dv;
    return a;
  };
  const int64_t threads = pool_->size();
  int64_t longest = 0;
  for (const TokenPlace& p : places_) longest = std::max(longest, p.pos + 1);
  if (n < threads && longest >= 2 * kMinKeysPerPart) {
    // each thread reads its share of a token's cache once for all heads
    const int64_t parts = threads / n;
    float* outs = buffer(parts_, n * parts * (nh * dv + 2 * nh));
    float* stats = outs + n * parts * nh * dv;  // per token: max [part][nh], then sum [part][nh]
    pool_->parallel_for(n * parts, [&](int64_t b, int64_t e, int t) {
      for (int64_t item = b; item < e; ++item) {
        const int64_t i = item / parts, p = item % parts;
        SharedKvAttention a = attention(i, 0, nh);
        const int64_t k0 = a.n_kv * p / parts, k1 = a.n_kv * (p + 1) / parts;
        a.kv = cache_of(i).row(ca.layer, k0);
        a.n_kv = k1 - k0;
        a.out = outs + item * nh * dv;
        float* max = stats + i * 2 * parts * nh + p * nh;
        float* sum = max + parts * nh;
        if (a.n_kv == 0) {  // a part with no keys weighs nothing in the merge
          std::fill(max, max + nh, -std::numeric_limits<float>::infinity());
          continue;
        }
        shared_kv_attention_partial(a, scratch + per_thread * t, max, sum);
      }
    });
    for (int64_t i = 0; i < n; ++i) {
      const float* max = stats + i * 2 * parts * nh;
      merge_attention_partials(nh, dv, parts, outs + i * parts * nh * dv, nh * dv, max, max + parts * nh,
                               ca.out + i * nh * dv, dv);
    }
  } else {
    // work items are (token, head); contiguous heads of one token share each cache row load
    pool_->parallel_for(n * nh, [&](int64_t b, int64_t e, int t) {
      for (int64_t item = b; item < e;) {
        const int64_t i = item / nh, h0 = item % nh;
        const int64_t h1 = std::min(nh, h0 + (e - item));
        shared_kv_attention(attention(i, h0, h1), scratch + per_thread * t);
        item += h1 - h0;
      }
    });
  }
  return {};
}

}  // namespace dsv3::ops
