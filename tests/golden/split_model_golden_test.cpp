// A model split across ranks (expert, and expert + tensor parallel) against
// the reference and against the single process, through the real rank
// protocol (LeaderForward announcing, followers mirroring caches) with the
// ranks as threads of this process (support/thread_world.h). The same split
// over MPI is tested through the CLI in tests/cli/mpi_cli_test.cpp.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/beam_search.h"
#include "model/rank_steps.h"
#include "support/reference_checks.h"
#include "support/thread_world.h"

namespace dsv3::test {
namespace {

// N ranks of one model: rank 0's LeaderForward is the model the tests drive.
class SplitJob {
 public:
  SplitJob(const std::string& name, int ranks, Layout layout) : world_(ranks) {
    for (int r = 0; r < ranks; ++r) {
      auto m = Model::load(model_dir(name), nullptr, Shard{r, ranks, layout});
      if (!m) throw std::runtime_error(m.error().message);
      models_.push_back(std::move(m).value());
      pools_.push_back(std::make_unique<ThreadPool>(1));
    }
    world_.start_followers([this](int r) {
      Transformer t(*models_[static_cast<std::size_t>(r)], pools_[static_cast<std::size_t>(r)].get(), &world_.comm(r));
      const Status s = follow_leader(t, world_.comm(r));
      EXPECT_TRUE(s.ok()) << "rank " << r << ": " << s.error().message;
    });
    leader_ = std::make_unique<LeaderForward>(
        std::make_unique<Transformer>(*models_[0], pools_[0].get(), &world_.comm(0)), world_.comm(0));
  }
  ~SplitJob() {
    leader_.reset();  // tells the followers to finish
    world_.join();
  }
  ForwardPass& model() { return *leader_; }
  const Model& shard(int r) const { return *models_[static_cast<std::size_t>(r)]; }

 private:
  ThreadWorld world_;
  std::vector<std::unique_ptr<Model>> models_;
  std::vector<std::unique_ptr<ThreadPool>> pools_;
  std::unique_ptr<LeaderForward> leader_;
};

struct Case {
  std::string model;
  int ranks;
  Layout layout;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " np " << c.ranks << " " << layout_name(c.layout); }
std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string m = info.param.model + "_np" + std::to_string(info.param.ranks) + "_" +
                  std::string(layout_name(info.param.layout));
  for (char& c : m)
    if (c == '-' || c == '+') c = '_';
  return m;
}

class SplitModel : public testing::TestWithParam<Case> {};

// Every golden prompt: every row within the reference tolerance, and within
// 1e-4 of the single process's row (the sums only change the order of additions).
TEST_P(SplitModel, EveryRowMatchesReferenceAndSingleProcess) {
  const Case& c = GetParam();
  SplitJob job(c.model, c.ranks, c.layout);
  ForwardPass& whole = *loaded(c.model).transformer;
  double worst_vs_single = 0;
  for (int p = 0; p < reference_prompt_count(c.model); ++p) {
    expect_reference_rows(job.model(), c.model, p);
    const std::vector<int32_t> ids = prompt_and_greedy(c.model, p);
    std::vector<std::vector<float>> single;
    for_each_logits_row(whole, ids, 0, [&](int64_t, const float* row) {
      single.emplace_back(row, row + whole.config().vocab_size);
    });
    for_each_logits_row(job.model(), ids, 0, [&](int64_t r, const float* row) {
      for (int64_t v = 0; v < whole.config().vocab_size; ++v)
        worst_vs_single = std::max(worst_vs_single, std::abs(double(row[v]) - single[static_cast<std::size_t>(r)][v]));
    });
  }
  EXPECT_LE(worst_vs_single, 1e-4);
  RecordProperty("max_abs_diff_vs_single_process", std::to_string(worst_vs_single));
}

TEST_P(SplitModel, GreedyTokensIdentical) {
  const Case& c = GetParam();
  SplitJob job(c.model, c.ranks, c.layout);
  for (int p = 0; p < reference_prompt_count(c.model); ++p) expect_reference_greedy(job.model(), c.model, p);
}

TEST_P(SplitModel, EveryLayerMatches) {
  SplitJob job(GetParam().model, GetParam().ranks, GetParam().layout);
  expect_reference_layers(job.model(), GetParam().model);
}

// Beams fork caches (rank 0's copies are mirrored on every rank) and drop them.
TEST_P(SplitModel, BeamSearchEqualsSingleProcess) {
  const Case& c = GetParam();
  SplitJob job(c.model, c.ranks, c.layout);
  const std::vector<int32_t> prompt{0, 17, 300, 1201, 42};
  BeamSearchParams bp;
  bp.beams = 3;
  bp.max_tokens = 6;
  auto want = beam_search(*loaded(c.model).transformer, prompt, bp);
  auto got = beam_search(job.model(), prompt, bp);
  ASSERT_TRUE(want.ok() && got.ok());
  ASSERT_EQ(got->size(), want->size());
  for (std::size_t i = 0; i < got->size(); ++i) {
    EXPECT_EQ((*got)[i].tokens, (*want)[i].tokens);
    EXPECT_NEAR((*got)[i].logprob, (*want)[i].logprob, 1e-4);
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (const std::string m : {"tiny", "tiny-fp8"})
    for (int n : {2, 3})
      for (Layout l : {Layout::kEp, Layout::kEpTp}) v.push_back({m, n, l});
  return v;
}
INSTANTIATE_TEST_SUITE_P(Golden, SplitModel, testing::ValuesIn(all_cases()), case_name);

// Past YaRN's original 4096 positions, prefill in chunks, then cached decode.
class SplitLongContext : public testing::TestWithParam<Layout> {};
TEST_P(SplitLongContext, MatchesReference) {
  SplitJob job("tiny-fp8", 2, GetParam());
  expect_long_context(job.model(), "tiny-fp8", 512);
}
INSTANTIATE_TEST_SUITE_P(Golden, SplitLongContext, testing::Values(Layout::kEp, Layout::kEpTp),
                         [](const auto& info) { return info.param == Layout::kEp ? std::string("ep") : std::string("ep_tp"); });

}  // namespace
}  // namespace dsv3::test
