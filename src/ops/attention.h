// Attention of several query rows against one shared key/value sequence
// (multi-query attention) where each value is the first dv entries of its key
// row. Online softmax over blocks of keys bounds the scratch to the block.
#pragma once
#include <cstdint>

#include "tensor/dtype.h"

namespace dsv3::ops {

struct SharedKvAttention {
  const float* q = nullptr;   // [nq][dk], rows ldq apart
  int64_t ldq = 0;
  int64_t nq = 0;
  const void* kv = nullptr;   // [n_kv][dk], rows ldkv elements apart; value = row[0:dv]
  int64_t ldkv = 0;
  int64_t n_kv = 0;
  int64_t dk = 0, dv = 0;
  float scale = 1.0f;         // applied to q.k before the softmax
  float* out = nullptr;       // [nq][dv], rows ldo apart
  int64_t ldo = 0;
  DType kv_dtype = DType::F32;  // F32 or F16
};

// Floats of scratch that shared_kv_attention needs for nq query rows.
int64_t shared_kv_attention_scratch(int64_t nq);

void shared_kv_attention(const SharedKvAttention& a, float* scratch);

// The same over a part of the keys, for splitting one query's keys over
// threads: out gets the unnormalised sum of exp(s - max) * value, and
// run_max[nq] / run_sum[nq] the max and the sum of exp(s - max).
void shared_kv_attention_partial(const SharedKvAttention& a, float* scratch, float* run_max, float* run_sum);

// Combines `parts` partial results (out [nq][dv] at outs + p * part_stride,
// max and sum at [p][nq]) into the normalised out [nq][dv], rows ldo apart.
void merge_attention_partials(int64_t nq, int64_t dv, int64_t parts, const float* outs, int64_t part_stride,
                              const float* maxes, const float* sums, float* out, int64_t ldo);

}  // namespace dsv3::ops
