// Continuous batching on the bundled tiny model: a batched forward equals
// separate ones; jobs run together give what each gives alone; prefix reuse,
// cancellation, the queue bound, the context limit, logprobs and shutdown.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

#include "engine/generator.h"
#include "engine/scheduler.h"
#include "support/golden.h"
#include "text/tokenizer.h"

namespace dsv3::test {
namespace {

const text::Tokenizer& tok() { return tiny_tokenizer(); }
Transformer& tiny() { return *loaded("tiny").transformer; }

std::vector<int32_t> prompt_ids(int k) {
  const auto j = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"];
  return j[k % j.size()]["ids"].get<std::vector<int32_t>>();
}

// What one job produced, collected from its events.
struct Outcome {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  int events = 0;
  bool done = false;
  FinishReason finish = FinishReason::kLength;
  JobUsage usage;
};

class Collector {
 public:
  JobSink sink(int key, bool keep_going = true) {
    return [this, key, keep_going](const JobEvent& e) {
      std::lock_guard lk(mu_);
      Outcome& o = out_[key];
      EXPECT_FALSE(o.done) << "an event after the last one";
      o.text += e.text;
      o.logprobs.insert(o.logprobs.end(), e.logprobs.begin(), e.logprobs.end());
      ++o.events;
      if (e.done) {
        o.done = true;
        o.finish = e.finish;
        o.usage = e.usage;
        EXPECT_TRUE(e.error.empty()) << e.error;
        cv_.notify_all();
      }
      return keep_going;
    };
  }
  Outcome wait(int key) {
    std::unique_lock lk(mu_);
    EXPECT_TRUE(cv_.wait_for(lk, std::chrono::seconds(60), [&] { return out_[key].done; })) << "job " << key;
    return out_[key];
  }
  Outcome peek(int key) {
    std::lock_guard lk(mu_);
    return out_[key];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, Outcome> out_;
};

Job greedy_job(const std::vector<int32_t>& prompt, int64_t n) {
  Job j;
  j.prompt = prompt;
  j.sampling.temperature = 0.0f;
  j.max_tokens = n;
  return j;
}

std::string alone(const std::vector<int32_t>& prompt, int64_t n, std::vector<std::string> stop = {}) {
  Session s(tiny());
  GenerationRequest r;
  r.prompt = prompt;
  r.sampling.temperature = 0.0f;
  r.max_tokens = n;
  r.stop = std::move(stop);
  auto g = generate(s, &tok(), r);
  EXPECT_TRUE(g.ok());
  return g.ok() ? g->text : std::string();
}

TEST(BatchedForward, EqualsSeparateForwards) {
  Transformer& t = tiny();
  const auto a = prompt_ids(0), b = prompt_ids(1);
  const int64_t h = t.config().hidden_size;
  // separately: a in full, b's first half then its second half
  LatentCache ca = t.make_cache(), cb = t.make_cache();
  std::vector<float> ha(a.size() * h), hb(b.size() * h);
  const int64_t half = static_cast<int64_t>(b.size()) / 2;
  ASSERT_TRUE(t.forward(a, 0, ca, ha.data()).ok());
  ASSERT_TRUE(t.forward(std::span(b).first(half), 0, cb, hb.data()).ok());
  ASSERT_TRUE(t.forward(std::span(b).subspan(half), half, cb, hb.data() + half * h).ok());
  // batched: b's first half alone, then a and b's second half together
  LatentCache xa = t.make_cache(), xb = t.make_cache();
  std::vector<float> first(half * h), both((a.size() + b.size() - half) * h);
  ASSERT_TRUE(t.forward(std::span(b).first(half), 0, xb, first.data()).ok());
  const SequenceChunk batch[] = {{a, 0, &xa}, {std::span(b).subspan(half), half, &xb}};
  ASSERT_TRUE(t.forward(batch, both.data()).ok());
  double worst = 0;
  for (std::size_t i = 0; i < ha.size(); ++i) worst = std::max(worst, double(std::abs(ha[i] - both[i])));
  for (std::size_t i = half * h; i < hb.size(); ++i)
    worst = std::max(worst, double(std::abs(hb[i] - both[ha.size() + i - half * h])));
  EXPECT_LT(worst, 1e-4);
  const SequenceChunk twice[] = {{a, 0, &xa}, {b, 0, &xa}};
  EXPECT_FALSE(t.forward(twice, both.data()).ok());
}

TEST(Scheduler, ConcurrentJobsGiveWhatEachGivesAlone) {
  constexpr int kJobs = 5;
  std::vector<std::string> expected;
  for (int k = 0; k < kJobs; ++k) expected.push_back(alone(prompt_ids(k), 12 + k));
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 3;  // two wait in the queue
  o.prefill_chunk = 7;  // prompts span several steps, alongside decoding
  Scheduler s(tiny(), &tok(), o);
  for (int k = 0; k < kJobs; ++k) ASSERT_EQ(s.submit(greedy_job(prompt_ids(k), 12 + k), c.sink(k)).code, SubmitResult::Code::kOk);
  for (int k = 0; k < kJobs; ++k) {
    const Outcome r = c.wait(k);
    EXPECT_EQ(r.text, expected[k]) << "job " << k;
    EXPECT_EQ(r.finish, FinishReason::kLength);
    EXPECT_EQ(r.usage.completion_tokens, 12 + k);
    EXPECT_EQ(r.usage.prompt_tokens, static_cast<int64_t>(prompt_ids(k).size()));
    EXPECT_GT(r.events, 1) << "streamed, not in one piece";
  }
  s.shutdown(std::chrono::seconds(5));
  const SchedulerStats st = s.stats();
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(st.queued, 0);
  EXPECT_GT(st.completion_tokens, 0);
}

// Sampling spread over threads draws what each seeded sequence draws alone.
TEST(Scheduler, ParallelSamplingIsPerSequence) {
  auto seeded = [](int k) {
    Job j = greedy_job(prompt_ids(k), 10);
    j.sampling.temperature = 0.8f;
    j.sampling.top_p = 0.9f;
    j.sampling.seed = 100 + k;
    return j;
  };
  std::vector<std::string> expected;
  {
    Collector c;
    Scheduler s(tiny(), &tok(), {});
    for (int k = 0; k < 4; ++k) {
      ASSERT_EQ(s.submit(seeded(k), c.sink(k)).code, SubmitResult::Code::kOk);
      expected.push_back(c.wait(k).text);  // one at a time
    }
  }
  Collector c;
  SchedulerOptions o;
  o.pool = loaded("tiny").pool.get();
  Scheduler s(tiny(), &tok(), o);
  for (int k = 0; k < 4; ++k) ASSERT_EQ(s.submit(seeded(k), c.sink(k)).code, SubmitResult::Code::kOk);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(c.wait(k).text, expected[k]) << "job " << k;
}

TEST(Scheduler, StopStringsMatchTheSingleSequencePath) {
  const auto p = prompt_ids(1);
  const std::string full = alone(p, 20);
  ASSERT_GT(full.size(), 8u);
  const std::string stop = full.substr(full.size() / 2, 3);
  const std::string expected = alone(p, 20, {stop});
  Collector c;
  Scheduler s(tiny(), &tok(), {});
  Job j = greedy_job(p, 20);
  j.stop = {stop};
  ASSERT_EQ(s.submit(j, c.sink(0)).code, SubmitResult::Code::kOk);
  const Outcome r = c.wait(0);
  EXPECT_EQ(r.text, expected);
  EXPECT_EQ(r.finish, FinishReason::kStop);
  EXPECT_EQ(r.text.find(stop), std::string::npos);
}

TEST(Scheduler, ReusesACachedPrefix) {
  const auto p = prompt_ids(1);
  auto longer = p;
  for (int32_t id : prompt_ids(0)) longer.push_back(id);
  const std::string expected = alone(longer, 8);
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 2;
  Scheduler s(tiny(), &tok(), o);
  ASSERT_EQ(s.submit(greedy_job(p, 4), c.sink(0)).code, SubmitResult::Code::kOk);
  EXPECT_EQ(c.wait(0).usage.cached_prompt_tokens, 0);
  ASSERT_EQ(s.submit(greedy_job(longer, 8), c.sink(1)).code, SubmitResult::Code::kOk);
  const Outcome r = c.wait(1);
  EXPECT_EQ(r.usage.cached_prompt_tokens, static_cast<int64_t>(p.size()));
  EXPECT_EQ(r.text, expected);
  EXPECT_GE(s.stats().cached_prompt_tokens, static_cast<int64_t>(p.size()));
}

TEST(Scheduler, CancelAndDisconnectFreeTheSlot) {
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 2;
  Scheduler s(tiny(), &tok(), o);
  const SubmitResult a = s.submit(greedy_job(prompt_ids(0), 100000 / 2), c.sink(0));
  ASSERT_EQ(a.code, SubmitResult::Code::kOk);
  // a sink that says the client is gone after its first piece
  ASSERT_EQ(s.submit(greedy_job(prompt_ids(1), 1000), c.sink(1, false)).code, SubmitResult::Code::kOk);
  while (c.peek(0).events == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.cancel(a.id);
  const Outcome r = c.wait(0);
  EXPECT_EQ(r.finish, FinishReason::kCancelled);
  for (int i = 0; i < 2000 && s.stats().active > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(s.stats().active, 0);
  // the sink that said the client was gone got one last event, with the usage
  const Outcome gone = c.wait(1);
  EXPECT_EQ(gone.events, 2);
  EXPECT_EQ(gone.finish, FinishReason::kCancelled);
  EXPECT_GE(gone.usage.completion_tokens, 1);
}

TEST(Scheduler, RefusesWhenTheQueueIsFullAndChecksJobs) {
  using Code = SubmitResult::Code;
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 1;
  o.max_queue = 1;
  o.context = 64;
  Scheduler s(tiny(), &tok(), o);
  std::vector<uint64_t> ids;
  int full = 0;
  for (int k = 0; k < 3; ++k) {
    const SubmitResult r = s.submit(greedy_job({1, 2, 3}, 60), c.sink(k));
    if (r.code == Code::kQueueFull) ++full;
    if (r.code == Code::kOk) ids.push_back(r.id);
  }
  EXPECT_GE(full, 1);
  for (uint64_t id : ids) s.cancel(id);

  EXPECT_EQ(s.submit(greedy_job({}, 4), c.sink(10)).code, Code::kInvalid);
  const SubmitResult long_prompt = s.submit(greedy_job(std::vector<int32_t>(64, 5), 4), c.sink(11));
  EXPECT_EQ(long_prompt.code, Code::kInvalid);
  EXPECT_NE(long_prompt.message.find("context"), std::string::npos) << long_prompt.message;
  Job bad = greedy_job({1, 2}, 4);
  bad.sampling.top_p = 2.0f;
  EXPECT_EQ(s.submit(bad, c.sink(12)).code, Code::kInvalid);
  EXPECT_EQ(s.submit(greedy_job({1, -2}, 4), c.sink(13)).code, Code::kInvalid);
  EXPECT_EQ(s.submit(greedy_job({1, 2}, -1), c.sink(14)).code, Code::kInvalid);
}

TEST(Scheduler, StopsAtTheContextLimit) {
  Collector c;
  SchedulerOptions o;
  o.context = 40;
  Scheduler s(tiny(), &tok(), o);
  const std::vector<int32_t> p(30, 7);
  ASSERT_EQ(s.submit(greedy_job(p, 100), c.sink(0)).code, SubmitResult::Code::kOk);
  const Outcome r = c.wait(0);
  EXPECT_EQ(r.finish, FinishReason::kLength);
  EXPECT_EQ(r.usage.completion_tokens, 10);
}

TEST(Scheduler, LogprobsOfTheRawDistribution) {
  Collector c;
  Scheduler s(tiny(), &tok(), {});
  Job j = greedy_job(prompt_ids(2), 6);
  j.top_logprobs = 3;
  ASSERT_EQ(s.submit(j, c.sink(0)).code, SubmitResult::Code::kOk);
  const Outcome r = c.wait(0);
  ASSERT_EQ(r.logprobs.size(), 6u);
  for (const TokenLogprob& t : r.logprobs) {
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_EQ(t.top[0].first, t.id) << "greedy picks the most likely token";
    EXPECT_FLOAT_EQ(t.top[0].second, t.logprob);
    EXPECT_LE(t.logprob, 0.0f);
    EXPECT_GE(t.top[0].second, t.top[1].second);
    EXPECT_GE(t.top[1].second, t.top[2].second);
  }
}

TEST(Scheduler, ShutdownCancelsWhatIsLeftAndRefusesNewJobs) {
  Collector c;
  auto s = std::make_unique<Scheduler>(tiny(), &tok(), SchedulerOptions{});
  ASSERT_EQ(s->submit(greedy_job(prompt_ids(0), 100000), c.sink(0)).code, SubmitResult::Code::kOk);
  s->shutdown(std::chrono::milliseconds(50));
  EXPECT_EQ(c.wait(0).finish, FinishReason::kCancelled);
  EXPECT_EQ(s->submit(greedy_job({1, 2}, 4), c.sink(1)).code, SubmitResult::Code::kShuttingDown);
}

}  // namespace
}  // namespace dsv3::test
