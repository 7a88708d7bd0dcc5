// How a model is cut across ranks: ranges, the views each rank binds (and the
// ones it leaves empty, so it can never read them), and the per-rank plan.
#include <gtest/gtest.h>

#include "model/rank_footprint.h"
#include "model/weights.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

TEST(ShardRange, SplitsWholeUnitsAndCoversEverything) {
  for (int ranks : {1, 2, 3, 5, 8}) {
    for (int64_t n : {0, 1, 7, 64, 100, 129280}) {
      for (int64_t unit : {1, 32, 128}) {
        int64_t at = 0;
        for (int r = 0; r < ranks; ++r) {
          const IndexRange x = shard_range(n, unit, r, ranks);
          EXPECT_EQ(x.begin, at) << n << " " << unit << " " << r;
          EXPECT_GE(x.size(), 0);
          if (x.end < n) {
            EXPECT_EQ(x.end % unit, 0);
          }
          at = x.end;
        }
        EXPECT_EQ(at, n);
      }
    }
  }
  EXPECT_EQ(shard_range(64, 1, 0, 2).end, 32);
  EXPECT_EQ(shard_range(64, 1, 1, 2).begin, 32);
}

TEST(ShardLayout, ParsesNames) {
  EXPECT_EQ(parse_layout("ep").value(), Layout::kEp);
  EXPECT_EQ(parse_layout("ep+tp").value(), Layout::kEpTp);
  auto bad = parse_layout("tp");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("ep+tp"), std::string::npos);
}

// Each rank binds its block of experts; the others' views stay empty (no data
// pointer): a rank cannot read an expert it does not own.
TEST(ShardBind, ExpertsOfOtherRanksAreNotBound) {
  const Model& whole = *loaded("tiny-fp8").model;
  const ModelConfig& c = whole.config;
  for (Layout layout : {Layout::kEp, Layout::kEpTp}) {
    std::vector<int> holders(static_cast<std::size_t>(c.n_routed_experts), 0);
    for (int r = 0; r < 3; ++r) {
      auto w = bind_weights(whole.checkpoint, c, Shard{r, 3, layout});
      ASSERT_TRUE(w.ok()) << w.error().message;
      for (const LayerWeights& l : w->layers) {
        if (!l.is_moe) continue;
        for (int64_t e = 0; e < c.n_routed_experts; ++e) {
          const SwiGluWeights& x = l.moe.experts[static_cast<std::size_t>(e)];
          if (l.moe.owned.contains(e)) {
            EXPECT_NE(x.gate.data, nullptr);
            EXPECT_NE(x.down.data, nullptr);
          } else {
            EXPECT_EQ(x.gate.data, nullptr);
            EXPECT_EQ(x.up.data, nullptr);
            EXPECT_EQ(x.down.data, nullptr);
          }
        }
        if (&l == &w->layers[1])
          for (int64_t e = l.moe.owned.begin; e < l.moe.owned.end; ++e) holders[static_cast<std::size_t>(e)] += 1;
      }
    }
    for (int h : holders) EXPECT_EQ(h, 1);  // every expert on exactly one rank
  }
}

// ep+tp: the heads, MLP columns and vocabulary are partitioned; the latent
// projection (kv_a) stays whole on every rank (the cache is replicated).
TEST(ShardBind, TensorParallelPartsPartitionTheWhole) {
  for (const std::string name : {"tiny", "tiny-fp8"}) {
    const Model& whole = *loaded(name).model;
    const ModelConfig& c = whole.config;
    for (int ranks : {2, 3}) {
      int64_t heads = 0, dense = 0, shared = 0, vocab = 0;
      for (int r = 0; r < ranks; ++r) {
        auto w = bind_weights(whole.checkpoint, c, Shard{r, ranks, Layout::kEpTp});
        ASSERT_TRUE(w.ok()) << w.error().message;
        heads += w->layers[0].attn.heads;
        EXPECT_EQ(w->layers[0].attn.o.cols, w->layers[0].attn.heads * c.v_head_dim);
        EXPECT_EQ(w->layers[0].attn.kv_a.rows, c.cache_width());
        dense += w->layers[0].mlp.gate.rows;
        EXPECT_EQ(w->layers[0].mlp.down.cols, w->layers[0].mlp.gate.rows);
        if (w->layers[1].moe.has_shared) shared += w->layers[1].moe.shared.gate.rows;
        vocab += w->lm_head.rows;
        EXPECT_EQ(w->lm_head.rows, w->vocab.size());
      }
      EXPECT_EQ(heads, c.num_attention_heads) << name << " np " << ranks;
      EXPECT_EQ(dense, c.intermediate_size);
      EXPECT_EQ(shared, c.moe_intermediate_size * c.n_shared_experts);
      EXPECT_EQ(vocab, c.vocab_size);
    }
  }
}

// ep: rank 0 alone computes the shared experts and the logits (the sum over
// ranks would otherwise count them N times).
TEST(ShardBind, ExpertParallelKeepsSharedAndHeadOnRankZero) {
  const Model& whole = *loaded("tiny").model;
  for (int r = 0; r < 2; ++r) {
    auto w = bind_weights(whole.checkpoint, whole.config, Shard{r, 2, Layout::kEp});
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->layers[1].moe.has_shared, r == 0);
    EXPECT_EQ(w->head_here, r == 0);
    EXPECT_EQ(w->layers[0].attn.heads, whole.config.num_attention_heads);
  }
}

TEST(ShardBind, RefusesMoreRanksThanExperts) {
  const Model& whole = *loaded("tiny-fp8").model;  // 8 routed experts
  auto w = bind_weights(whole.checkpoint, whole.config, Shard{0, 9, Layout::kEp});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("9 ranks for 8 routed experts"), std::string::npos) << w.error().message;
}

// The per-rank plan: experts partitioned, the rest replicated (ep) or cut (ep+tp).
TEST(RankFootprint, ExpertBytesPartitionAndReplicatedPartsRepeat) {
  const Model& whole = *loaded("tiny-fp8").model;
  const WeightStats all = weight_stats(whole.weights, whole.config);
  for (Layout layout : {Layout::kEp, Layout::kEpTp}) {
    auto one = rank_footprints(whole.checkpoint, whole.config, 1, layout);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ((*one)[0].weight_bytes, all.bytes);
    auto f = rank_footprints(whole.checkpoint, whole.config, 2, layout);
    ASSERT_TRUE(f.ok()) << f.error().message;
    const int64_t experts = (*one)[0].expert_bytes;
    EXPECT_EQ((*f)[0].expert_bytes + (*f)[1].expert_bytes, experts);
    EXPECT_EQ((*f)[0].expert_bytes, experts / 2);
    // rank 1 holds less than the whole model and more than its experts
    EXPECT_LT((*f)[1].weight_bytes, all.bytes);
    EXPECT_GT((*f)[1].weight_bytes, (*f)[1].expert_bytes);
    EXPECT_GT((*f)[0].sums_per_token, 0);
  }
}

// From config.json alone: the official layout's tensors, planned without weights.
TEST(RankFootprint, PlansFromConfigAlone) {
  auto c = load_config(std::string(DSV3_SOURCE_ROOT) + "/docs/configs/deepseek-v3/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const Checkpoint shaped = Checkpoint::shaped(*c, "config.json");
  auto w = bind_weights(shaped, *c);
  ASSERT_TRUE(w.ok()) << w.error().message;
  const WeightStats ws = weight_stats(*w, *c);
  EXPECT_NEAR(ws.params / 1e9, 671.0, 1.0);  // without the MTP layer
  auto f = rank_footprints(shaped, *c, 8, Layout::kEpTp);
  ASSERT_TRUE(f.ok()) << f.error().message;
  for (const RankFootprint& r : *f) {
    EXPECT_EQ(r.experts_per_layer, 32);
    EXPECT_EQ(r.heads, 16);
    EXPECT_LT(r.weight_bytes, ws.bytes / 7);
  }
}

}  // namespace
}  // namespace dsv3::test
