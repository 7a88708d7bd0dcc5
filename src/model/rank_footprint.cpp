#include "model/rank_footprint.h"

#include "model/weights.h"

namespace dsv3 {

Result<std::vector<RankFootprint>> rank_footprints(const Checkpoint& ckpt, const ModelConfig& c, int ranks,
                                                   Layout layout) {
  std::vector<RankFootprint> out;
  int64_t moe_layers = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) moe_layers += c.is_moe_layer(l);
  for (int r = 0; r < ranks; ++r) {
    const Shard shard{r, ranks, layout};
    DSV3_ASSIGN_OR_RETURN(const Weights w, bind_weights(ckpt, c, shard));
    const WeightStats ws = weight_stats(w, c);
    RankFootprint f;
    f.rank = r;
    f.weight_bytes = ws.bytes;
    f.active_bytes = ws.active_bytes;
    for (const LayerWeights& l : w.layers) {
      f.heads = l.attn.heads;
      if (!l.is_moe) continue;
      f.experts_per_layer = l.moe.owned.size();
      for (int64_t e = l.moe.owned.begin; e < l.moe.owned.end; ++e) {
        const SwiGluWeights& x = l.moe.experts[static_cast<std::size_t>(e)];
        for (const ops::Matrix* m : {&x.gate, &x.up, &x.down}) f.expert_bytes += matrix_bytes(*m);
      }
    }
    f.cache_bytes_per_token = c.num_hidden_layers * c.cache_width() * 4;
    if (ranks > 1) {
      // one sum per MoE layer; with tensor parallelism also one per attention and dense MLP,
      // and the logits gathered to rank 0
      f.sums_per_token = layout == Layout::kEpTp ? 2 * c.num_hidden_layers : moe_layers;
      f.sum_bytes_per_token = f.sums_per_token * c.hidden_size * 4 * ranks;
      if (layout == Layout::kEpTp) {
        f.sums_per_token += 1;
        if (r == 0) f.sum_bytes_per_token += c.vocab_size * 4;
      }
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace dsv3
