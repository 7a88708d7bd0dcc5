// A job of n samples on the bundled tiny model: each sample gives what a
// separate job with its seed (seed + i) gives, the prompt is computed once
// (counted by a forward pass that tallies its rows), slots that run short
// make samples wait without recomputing it, and cancelling ends every sample.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <numeric>

#include "engine/scheduler.h"
#include "support/golden.h"
#include "support/reference_checks.h"
#include "support/test_env.h"
#include "text/tokenizer.h"

namespace dsv3::test {
namespace {

const text::Tokenizer& tok() { return tiny_tokenizer(); }
Transformer& tiny() { return *loaded("tiny").transformer; }

std::vector<int32_t> prompt_ids(int k) { return reference_prompt("tiny", k); }

// The tiny model, counting the token rows it is asked to compute.
class CountingPass final : public ForwardPass {
 public:
  explicit CountingPass(ForwardPass& inner) : inner_(inner) {}
  using ForwardPass::forward;
  const ModelConfig& config() const override { return inner_.config(); }
  std::string device() const override { return inner_.device(); }
  LatentCache make_cache(int64_t capacity, DType dtype) const override { return inner_.make_cache(capacity, dtype); }
  Status forward(std::span<const SequenceChunk> batch, float* hidden_out, const LayerObserver* observer) override {
    for (const auto& c : batch) rows_ += static_cast<int64_t>(c.ids.size());
    return inner_.forward(batch, hidden_out, observer);
  }
  Status logits(const float* hidden, int64_t n, float* out) override { return inner_.logits(hidden, n, out); }
  int64_t rows() const { return rows_; }  // read once the engine is idle

 private:
  ForwardPass& inner_;
  std::atomic<int64_t> rows_{0};
};

struct SampleOutcome {
  std::string text;
  std::vector<int32_t> ids;
  int done = 0;
  FinishReason finish = FinishReason::kLength;
  JobUsage usage;
};

// One job's events, by sample.
class Samples {
 public:
  JobSink sink(int32_t n, int32_t leave_at_sample = -1) {
    n_ = n;
    return [this, leave_at_sample](const JobEvent& e) {
      std::lock_guard lk(mu_);
      EXPECT_GE(e.sample, 0);
      EXPECT_LT(e.sample, n_);
      SampleOutcome& o = out_[e.sample];
      EXPECT_EQ(o.done, 0) << "an event after sample " << e.sample << "'s last one";
      o.text += e.text;
      o.ids.insert(o.ids.end(), e.tokens.begin(), e.tokens.end());
      if (e.done) {
        ++o.done;
        o.finish = e.finish;
        o.usage = e.usage;
        EXPECT_TRUE(e.error.empty()) << e.error;
        ++ended_;
        cv_.notify_all();
      }
      return e.sample != leave_at_sample;
    };
  }
  std::map<int32_t, SampleOutcome> wait() {
    std::unique_lock lk(mu_);
    EXPECT_TRUE(cv_.wait_for(lk, test_deadline(), [&] { return ended_ == n_; })) << ended_ << " of " << n_ << " ended";
    return out_;
  }
  int events_seen(int32_t sample) {
    std::lock_guard lk(mu_);
    return static_cast<int>(out_[sample].ids.size());
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int32_t, SampleOutcome> out_;
  int32_t n_ = 1;
  int ended_ = 0;
};

Job sampled_job(const std::vector<int32_t>& prompt, int32_t n, uint64_t seed, int64_t max_tokens = 12) {
  Job j;
  j.prompt = prompt;
  j.sampling.temperature = 0.9f;
  j.sampling.top_p = 0.95f;
  j.sampling.seed = seed;
  j.max_tokens = max_tokens;
  j.n = n;
  return j;
}

// Each seed alone, one job at a time.
std::vector<SampleOutcome> separately(const std::vector<int32_t>& prompt, int32_t n, uint64_t seed) {
  std::vector<SampleOutcome> r;
  Scheduler s(tiny(), &tok(), {});
  for (int32_t i = 0; i < n; ++i) {
    Samples c;
    EXPECT_EQ(s.submit(sampled_job(prompt, 1, seed + i), c.sink(1)).code, SubmitResult::Code::kOk);
    r.push_back(c.wait()[0]);
  }
  return r;
}

// The rows a job of these samples computes with its prompt computed once:
// the prompt, then every sampled token but each sample's last is fed back.
int64_t rows_once(const std::vector<int32_t>& prompt, const std::map<int32_t, SampleOutcome>& got) {
  int64_t rows = static_cast<int64_t>(prompt.size());
  for (const auto& [i, o] : got) rows += std::max<int64_t>(0, o.usage.completion_tokens - 1);
  return rows;
}

void expect_samples_match(const std::map<int32_t, SampleOutcome>& got, const std::vector<SampleOutcome>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const SampleOutcome& o = got.at(static_cast<int32_t>(i));
    EXPECT_EQ(o.done, 1) << "sample " << i;
    EXPECT_EQ(o.ids, expected[i].ids) << "sample " << i;
    EXPECT_EQ(o.text, expected[i].text) << "sample " << i;
    EXPECT_EQ(o.finish, expected[i].finish) << "sample " << i;
    EXPECT_EQ(o.usage.completion_tokens, expected[i].usage.completion_tokens) << "sample " << i;
  }
}

TEST(Samples, EachIsTheSeparateJobOfItsSeedAndThePromptRunsOnce) {
  const auto p = prompt_ids(1);
  const std::vector<SampleOutcome> expected = separately(p, 3, 42);
  EXPECT_FALSE(expected[0].ids == expected[1].ids && expected[1].ids == expected[2].ids) << "seeds that differ";
  CountingPass counting(tiny());
  Scheduler s(counting, &tok(), {});
  Samples c;
  ASSERT_EQ(s.submit(sampled_job(p, 3, 42), c.sink(3)).code, SubmitResult::Code::kOk);
  const auto got = c.wait();
  expect_samples_match(got, expected);
  // the prompt counted once, in sample 0's usage; the others share its cache
  EXPECT_EQ(got.at(0).usage.prompt_tokens, static_cast<int64_t>(p.size()));
  EXPECT_EQ(got.at(1).usage.prompt_tokens, 0);
  EXPECT_EQ(got.at(2).usage.prompt_tokens, 0);
  s.shutdown(test_deadline());
  const SchedulerStats st = s.stats();
  EXPECT_EQ(st.prompt_tokens, static_cast<int64_t>(p.size()));
  EXPECT_EQ(st.completion_tokens, got.at(0).usage.completion_tokens + got.at(1).usage.completion_tokens +
                                      got.at(2).usage.completion_tokens);
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(counting.rows(), rows_once(p, got)) << "the prompt was computed more than once";
}

// Two slots for five samples: three wait for a slot, then fork a sibling's
// cache (still held) instead of computing the prompt again.
TEST(Samples, SamplesWaitingForASlotForkACacheStillHeld) {
  const auto p = prompt_ids(2);
  const std::vector<SampleOutcome> expected = separately(p, 5, 7);
  CountingPass counting(tiny());
  SchedulerOptions o;
  o.max_sequences = 2;
  Scheduler s(counting, &tok(), o);
  Samples c;
  ASSERT_EQ(s.submit(sampled_job(p, 5, 7), c.sink(5)).code, SubmitResult::Code::kOk);
  const auto got = c.wait();
  expect_samples_match(got, expected);
  s.shutdown(test_deadline());
  EXPECT_EQ(s.stats().prompt_tokens, static_cast<int64_t>(p.size()));
  EXPECT_EQ(s.stats().active, 0);
  EXPECT_EQ(counting.rows(), rows_once(p, got));
}

TEST(Samples, OneSampleIsAsBefore) {
  const auto p = prompt_ids(0);
  const std::vector<SampleOutcome> expected = separately(p, 1, 5);
  Scheduler s(tiny(), &tok(), {});
  Samples c;
  Job j = sampled_job(p, 1, 5);
  ASSERT_EQ(s.submit(j, c.sink(1)).code, SubmitResult::Code::kOk);
  const auto got = c.wait();
  expect_samples_match(got, expected);
  EXPECT_EQ(got.at(0).usage.prompt_tokens, static_cast<int64_t>(p.size()));
}

TEST(Samples, GreedySamplesAreIdenticalAndNoTokensEndsEach) {
  const auto p = prompt_ids(1);
  Scheduler s(tiny(), &tok(), {});
  {
    Samples c;
    Job j = sampled_job(p, 2, 1);
    j.sampling.temperature = 0.0f;
    ASSERT_EQ(s.submit(j, c.sink(2)).code, SubmitResult::Code::kOk);
    const auto got = c.wait();
    EXPECT_EQ(got.at(0).ids, got.at(1).ids);
    EXPECT_EQ(got.at(0).text, got.at(1).text);
  }
  Samples c;
  ASSERT_EQ(s.submit(sampled_job(p, 3, 1, 0), c.sink(3)).code, SubmitResult::Code::kOk);
  for (const auto& [i, o] : c.wait()) {
    EXPECT_EQ(o.finish, FinishReason::kLength) << "sample " << i;
    EXPECT_EQ(o.usage.completion_tokens, 0);
  }
}

TEST(Samples, NIsChecked) {
  Scheduler s(tiny(), &tok(), {});
  Samples c;
  EXPECT_EQ(s.submit(sampled_job(prompt_ids(0), 0, 1), c.sink(1)).code, SubmitResult::Code::kInvalid);
  EXPECT_EQ(s.submit(sampled_job(prompt_ids(0), kMaxSamples + 1, 1), c.sink(1)).code, SubmitResult::Code::kInvalid);
}

TEST(Samples, CancellingEndsEverySample) {
  const auto p = prompt_ids(0);
  SchedulerOptions o;
  o.max_sequences = 2;  // one sample waits for a slot
  Scheduler s(tiny(), &tok(), o);
  Samples c;
  Job j = sampled_job(p, 3, 1, 100000);
  j.stop_tokens.clear();
  const SubmitResult r = s.submit(j, c.sink(3));
  ASSERT_EQ(r.code, SubmitResult::Code::kOk);
  ASSERT_TRUE(wait_until([&] { return c.events_seen(1) > 0; })) << "sample 1 never streamed";
  s.cancel(r.id);
  for (const auto& [i, out] : c.wait()) {
    EXPECT_EQ(out.finish, FinishReason::kCancelled) << "sample " << i;
    EXPECT_EQ(out.done, 1);
  }
  EXPECT_TRUE(wait_until([&] { return s.stats().active == 0; })) << s.stats().active << " still active";
}

// A sink that says the client is gone, at one sample's event, ends them all.
TEST(Samples, AClientGoneEndsEverySample) {
  Scheduler s(tiny(), &tok(), {});
  Samples c;
  Job j = sampled_job(prompt_ids(1), 4, 3, 100000);
  j.top_logprobs = 0;  // an event per token
  ASSERT_EQ(s.submit(j, c.sink(4, 2)).code, SubmitResult::Code::kOk);
  for (const auto& [i, out] : c.wait()) EXPECT_EQ(out.finish, FinishReason::kCancelled) << "sample " << i;
  EXPECT_TRUE(wait_until([&] { return s.stats().active == 0; }));
}

}  // namespace
}  // namespace dsv3::test
