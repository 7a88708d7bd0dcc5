// What each rank of a split job holds and reads: for planning a deployment
// (dsv3 inspect --ranks N) from a checkpoint, or from its config alone.
#pragma once
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/shard.h"

namespace dsv3 {

struct RankFootprint {
  int rank = 0;
  int64_t experts_per_layer = 0;  // routed experts held per MoE layer
  int64_t heads = 0;              // attention heads computed
  int64_t weight_bytes = 0;       // weights mapped and read over time
  int64_t expert_bytes = 0;       // of which routed experts
  int64_t active_bytes = 0;       // read per decoded token (its expected share of the routed experts)
  int64_t cache_bytes_per_token = 0;  // the latent cache (f32; replicated on every rank)
  int64_t sums_per_token = 0;     // collectives per decoded token
  int64_t sum_bytes_per_token = 0;  // bytes each rank receives in them per token
};

Result<std::vector<RankFootprint>> rank_footprints(const Checkpoint& ckpt, const ModelConfig& c, int ranks,
                                                   Layout layout);

}  // namespace dsv3
