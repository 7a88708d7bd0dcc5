// Which part of a model one rank of a multi-process job holds. Expert
// parallelism (ep): each rank holds a contiguous block of every MoE layer's
// routed experts; the rest is replicated (rank 0 alone computes the shared
// experts and the lm_head, so nothing is counted twice). Expert and tensor
// parallelism (ep+tp): the attention heads, the dense and shared MLPs'
// intermediate columns and the lm_head's vocabulary are split as well, so
// every rank reads about 1/N of every layer. The MLA latent cache is shared
// by all heads and stays whole (replicated) on every rank either way.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "model/config.h"

namespace dsv3 {

enum class Layout { kEp, kEpTp };
Result<Layout> parse_layout(std::string_view name);  // "ep" or "ep+tp"
std::string_view layout_name(Layout layout);

struct Shard {
  int rank = 0, ranks = 1;
  Layout layout = Layout::kEp;
  bool split() const { return ranks > 1; }
  bool tensor_parallel() const { return ranks > 1 && layout == Layout::kEpTp; }
};

// [begin, end) of a split dimension.
struct IndexRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
  bool contains(int64_t i) const { return i >= begin && i < end; }
};

// `rank`'s share of n items split as evenly as whole units of `unit` items
// allow (the last unit may be short); a rank may get none.
IndexRange shard_range(int64_t n, int64_t unit, int rank, int ranks);

// A rank's share of each split dimension. col_granule: the column
// alignment a slice of the stored weights needs (1 for f32/bf16/f16, the
// block for fp8 and ggml's formats), which decides how heads and MLP
// columns can be cut.
struct ShardPlan {
  IndexRange experts;       // routed experts of every MoE layer
  IndexRange heads;         // attention heads
  IndexRange dense_width;   // columns of a dense MLP
  IndexRange shared_width;  // columns of the shared experts (as one MLP)
  IndexRange vocab;         // rows of the lm_head
  bool shared_here = true;  // whether this rank computes the shared experts
  bool head_here = true;    // whether this rank computes (part of) the logits
};
ShardPlan plan_shard(const ModelConfig& c, const Shard& s, int64_t col_granule);

// Refuses a split that cannot work (more ranks than experts).
Status check_shard(const ModelConfig& c, const Shard& s);

}  // namespace dsv3
