// A model split across the ranks of a job runs every pass on every rank, in
// step: each rank computes its share and the shares are summed inside the
// pass (see Transformer). Rank 0 leads: the engine drives it like any model,
// and before each pass it broadcasts what the pass is (the tokens and which
// caches they extend; the hidden rows logits are asked of). The followers
// run each announced pass on their mirror of every cache: a cache made,
// forked (beams, prefix reuse, n > 1) or dropped on rank 0 is made, forked
// or dropped on every rank before the next pass.
//
// A pass that fails once announced (a rank died or stalled: a collective
// timed out) leaves the job unusable: the leader reports it, marks itself
// broken (health()), and ends every process of the job a moment later.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "model/forward_pass.h"
#include "model/transformer.h"

namespace dsv3 {

class CacheLedger;

// What one rank holds and has done: for benchmarks and the footprint checks.
struct RankReport {
  int64_t weight_bytes = 0;    // the weights its shard binds (loader accounting)
  int64_t active_bytes = 0;    // of which it reads per decoded token
  int64_t resident_bytes = 0;  // of the checkpoint's files in its page tables (/proc/self/smaps Rss)
  dist::CollectiveStats collectives;  // since the last reset
};

class LeaderForward final : public ForwardPass {
 public:
  // `local` computes rank 0's share; comm is the job's world (rank 0).
  // grace_s: how long a broken job stays up (health() says why) before it ends.
  LeaderForward(std::unique_ptr<Transformer> local, dist::Communicator& comm, double grace_s = 2.0);
  ~LeaderForward() override;  // tells the followers to finish

  const ModelConfig& config() const override { return local_->config(); }
  std::string device() const override;
  LatentCache make_cache(int64_t capacity = 0, DType dtype = DType::F32) const override;
  using ForwardPass::forward;
  Status forward(std::span<const SequenceChunk> batch, float* hidden_out,
                 const LayerObserver* observer = nullptr) override;
  Status logits(const float* hidden, int64_t n, float* out) override;
  Status health() const override;

  // Every rank's report (rank order); reset: start their collective counts afresh after.
  Result<std::vector<RankReport>> reports(bool reset);
  // Seconds one sum over the ranks of `floats` floats takes when every rank
  // is ready (the mean of `count` back to back): the collectives' own cost,
  // without the waiting for slower ranks that a pass adds.
  Result<double> time_sums(int64_t count, int64_t floats);

 private:
  Status announce(std::vector<int64_t>& words);
  Status fail(const Error& e);

  std::unique_ptr<Transformer> local_;
  dist::Communicator& comm_;
  double grace_s_;
  std::shared_ptr<CacheLedger> ledger_;
  std::vector<int64_t> words_;
  mutable std::mutex broken_mu_;
  std::string broken_;
};

// A follower's loop: runs the leader's passes until it finishes (Ok) or a
// pass fails (the error; the caller should then end the job).
Status follow_leader(Transformer& local, dist::Communicator& comm);

}  // namespace dsv3
