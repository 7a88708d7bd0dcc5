#include "model/shard.h"

#include <numeric>

namespace dsv3 {

Result<Layout> parse_layout(std::string_view name) {
  if (name == "ep") return Layout::kEp;
  if (name == "ep+tp") return Layout::kEpTp;
  return make_error("unknown parallel layout \"{}\" (expected ep or ep+tp)", name);
}

std::string_view layout_name(Layout layout) { return layout == Layout::kEp ? "ep" : "ep+tp"; }

IndexRange shard_range(int64_t n, int64_t unit, int rank, int ranks) {
  if (unit < 1) unit = 1;
  const int64_t units = (n + unit - 1) / unit;
  const int64_t b = units * rank / ranks, e = units * (rank + 1) / ranks;
  return {std::min(n, b * unit), std::min(n, e * unit)};
}

ShardPlan plan_shard(const ModelConfig& c, const Shard& s, int64_t g) {
  ShardPlan p;
  p.experts = {0, c.n_routed_experts};
  p.heads = {0, c.num_attention_heads};
  p.dense_width = {0, c.intermediate_size};
  p.shared_width = {0, c.moe_intermediate_size * c.n_shared_experts};
  p.vocab = {0, c.vocab_size};
  if (!s.split()) return p;
  p.experts = shard_range(c.n_routed_experts, 1, s.rank, s.ranks);
  if (!s.tensor_parallel()) {
    p.shared_here = p.head_here = s.rank == 0;
    return p;
  }
  // o_proj's columns are cut at head boundaries: a head unit spans whole granules
  const int64_t vd = std::max<int64_t>(1, c.v_head_dim);
  const int64_t heads_per_unit = std::lcm(vd, std::max<int64_t>(1, g)) / vd;
  p.heads = shard_range(c.num_attention_heads, heads_per_unit, s.rank, s.ranks);
  p.dense_width = shard_range(c.intermediate_size, g, s.rank, s.ranks);
  p.shared_width = shard_range(c.moe_intermediate_size * c.n_shared_experts, g, s.rank, s.ranks);
  p.vocab = shard_range(c.vocab_size, 64, s.rank, s.ranks);  // row blocks of 64: any kernel's row tiles
  p.shared_here = p.shared_width.size() > 0;
  p.head_here = p.vocab.size() > 0;
  return p;
}

Status check_shard(const ModelConfig& c, const Shard& s) {
  if (s.ranks < 1 || s.rank < 0 || s.rank >= s.ranks) return make_error("rank {} of {} is not a rank", s.rank, s.ranks);
  if (s.split() && c.n_routed_experts > 0 && s.ranks > c.n_routed_experts)
    return make_error("{} ranks for {} routed experts per layer: every rank must hold at least one expert "
                      "(run with at most {} ranks)",
                      s.ranks, c.n_routed_experts, c.n_routed_experts);
  if (s.split() && c.n_routed_experts == 0)
    return make_error("this model has no routed experts to split across {} ranks", s.ranks);
  return {};
}

}  // namespace dsv3
