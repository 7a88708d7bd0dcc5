// Continuous batching on the bundled tiny model: a batched forward equals
// separate ones; jobs run together give what each gives alone; prefix reuse,
// cancellation, the queue bound, the context limit, logprobs and shutdown.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <set>

#include "engine/completion.h"
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

// What one job produced, collected from its events.
struct Outcome {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  int events = 0;
  bool done = false;
  FinishReason finish = FinishReason::kLength;
  JobUsage usage;
  std::string stop_string;  // the last event's
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
        o.stop_string = std::string(e.stop_string);
        EXPECT_TRUE(e.error.empty()) << e.error;
        cv_.notify_all();
      }
      return keep_going;
    };
  }
  Outcome wait(int key) {
    std::unique_lock lk(mu_);
    EXPECT_TRUE(cv_.wait_for(lk, test_deadline(), [&] { return out_[key].done; })) << "job " << key;
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

// Freezes the engine thread inside a job's sink at chosen events, so that a
// test can act while the scheduler is at a known point (sinks must not block
// in real use; here that is what makes the state certain, not a race).
class Gate {
 public:
  explicit Gate(std::set<int> holds) : holds_(std::move(holds)) {}
  // The k-th event (1-based) of `inner` waits in the engine thread until released.
  JobSink wrap(JobSink inner) {
    return [this, inner](const JobEvent& e) {
      const bool keep = inner(e);
      std::unique_lock lk(mu_);
      ++events_;
      if (holds_.count(events_) != 0) {
        held_ = events_;
        cv_.notify_all();
        EXPECT_TRUE(cv_.wait_for(lk, test_deadline(), [&] { return released_ >= held_; })) << "never released";
        held_ = 0;
      }
      return keep;
    };
  }
  // Waits until the engine thread is held at event k.
  bool wait_held(int k) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, test_deadline(), [&] { return held_ == k; });
  }
  void release(int k) {
    std::lock_guard lk(mu_);
    released_ = std::max(released_, k);
    cv_.notify_all();
  }
  void release_all() { release(INT_MAX); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<int> holds_;
  int events_ = 0, held_ = 0, released_ = 0;
};
// Declared after the Scheduler: opens the gate before the scheduler's
// destructor waits for its engine thread, also when a test stops early.
struct OpenOnExit {
  Gate& gate;
  ~OpenOnExit() { gate.release_all(); }
};

Job greedy_job(const std::vector<int32_t>& prompt, int64_t n) {
  Job j;
  j.prompt = prompt;
  j.sampling.temperature = 0.0f;
  j.max_tokens = n;
  return j;
}

// What the CLI's path gives: the job alone, on a one-sequence scheduler
// with the CLI's options (the server's default ones differ in prefill chunk and context).
std::string alone(const std::vector<int32_t>& prompt, int64_t n, std::vector<std::string> stop = {}) {
  Scheduler s(tiny(), &tok(), one_sequence_options());
  Job j = greedy_job(prompt, n);
  j.stop = std::move(stop);
  auto g = complete(s, std::move(j));
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
  s.shutdown(test_deadline());
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
  j.stop = {"never-appears-\x01", stop};
  ASSERT_EQ(s.submit(j, c.sink(0)).code, SubmitResult::Code::kOk);
  const Outcome r = c.wait(0);
  EXPECT_EQ(r.text, expected);
  EXPECT_EQ(r.finish, FinishReason::kStop);
  EXPECT_EQ(r.text.find(stop), std::string::npos);
  EXPECT_EQ(r.stop_string, stop);  // the one that matched, for the Anthropic API's stop_sequence
}

TEST(Scheduler, NoStopStringWhenTheBudgetEnds) {
  Collector c;
  Scheduler s(tiny(), &tok(), {});
  Job j = greedy_job(prompt_ids(1), 4);
  j.stop = {"never-appears-\x01"};
  ASSERT_EQ(s.submit(j, c.sink(0)).code, SubmitResult::Code::kOk);
  const Outcome r = c.wait(0);
  EXPECT_EQ(r.finish, FinishReason::kLength);
  EXPECT_TRUE(r.stop_string.empty());
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

// A long prompt cancelled before its first token: it ends at once with no
// completion, its slot is free for the next job, and what it did compute
// stays for prefix reuse. Another job's sink freezes the engine at known
// steps: B's first token (A not yet admitted), then B's second token (A
// admitted one step ago and exactly one prefill chunk into its prompt).
TEST(Scheduler, CancelDuringPrefill) {
  using Code = SubmitResult::Code;
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 2;
  o.prefill_chunk = 8;
  Gate gate({1, 2, 3});
  Scheduler s(tiny(), &tok(), o);
  OpenOnExit open{gate};
  Job b = greedy_job({1, 2, 3}, 1000);
  b.top_logprobs = 0;  // an event for every token
  const SubmitResult bid = s.submit(b, gate.wrap(c.sink(1)));
  ASSERT_EQ(bid.code, Code::kOk);
  ASSERT_TRUE(gate.wait_held(1));
  std::vector<int32_t> long_prompt(2000);
  for (std::size_t i = 0; i < long_prompt.size(); ++i) long_prompt[i] = static_cast<int32_t>(10 + (i * 7919) % 5000);
  const SubmitResult aid = s.submit(greedy_job(long_prompt, 10), c.sink(0));
  ASSERT_EQ(aid.code, Code::kOk);
  gate.release(1);
  ASSERT_TRUE(gate.wait_held(2));
  EXPECT_EQ(s.stats().active, 2) << "A is admitted and prefilling";
  s.cancel(aid.id);
  gate.release(2);
  const Outcome a = c.wait(0);
  EXPECT_EQ(a.finish, FinishReason::kCancelled);
  EXPECT_EQ(a.usage.completion_tokens, 0);
  EXPECT_EQ(a.usage.prompt_tokens, 2000);
  EXPECT_EQ(a.text, "");
  EXPECT_EQ(a.events, 1);
  // B's next token comes after the cancel was handled: only B holds a slot
  ASSERT_TRUE(gate.wait_held(3));
  EXPECT_EQ(s.stats().active, 1);
  s.cancel(bid.id);
  gate.release_all();
  EXPECT_EQ(c.wait(1).finish, FinishReason::kCancelled);
  ASSERT_TRUE(wait_until([&] { return s.stats().active == 0; }));
  // the slot A left holds the one chunk it computed: a prompt starting the same reuses it
  const std::vector<int32_t> again(long_prompt.begin(), long_prompt.begin() + 50);
  ASSERT_EQ(s.submit(greedy_job(again, 4), c.sink(2)).code, Code::kOk);
  const Outcome r = c.wait(2);
  EXPECT_EQ(r.usage.cached_prompt_tokens, o.prefill_chunk);
  EXPECT_EQ(r.text, alone(again, 4));
}

// Prefix reuse picks the free slot holding the longest prefix of the prompt,
// else the least recently used one, whose cache is then overwritten; a
// prompt that diverges from a slot's tokens (in its prompt or in what was
// generated) reuses exactly the common part and gives what a fresh cache gives.
TEST(Scheduler, PrefixReuseEvictsTheLeastRecentlyUsedAndHandlesDivergence) {
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 2;
  Scheduler s(tiny(), &tok(), o);
  auto seq = [](int32_t from, int n) {
    std::vector<int32_t> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), from);
    return v;
  };
  auto cat = [](std::vector<int32_t> a, const std::vector<int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const auto X = seq(100, 20), Y = seq(200, 20), Z = seq(300, 20);
  int key = 0;
  int64_t total_cached = 0;
  // runs a job alone; returns its cached prompt tokens and the ids it generated
  auto run = [&](const std::vector<int32_t>& prompt, std::vector<int32_t>* generated = nullptr) {
    Job j = greedy_job(prompt, 4);
    j.top_logprobs = 0;
    const int k = key++;
    EXPECT_EQ(s.submit(j, c.sink(k)).code, SubmitResult::Code::kOk);
    const Outcome r = c.wait(k);
    EXPECT_EQ(r.text, alone(prompt, 4)) << "job " << k;
    if (generated != nullptr) {
      generated->clear();
      for (const auto& t : r.logprobs) generated->push_back(t.id);
    }
    total_cached += r.usage.cached_prompt_tokens;
    return r.usage.cached_prompt_tokens;
  };
  std::vector<int32_t> gx, gz;
  EXPECT_EQ(run(X, &gx), 0);                          // slot 0: X
  EXPECT_EQ(run(Y), 0);                               // slot 1 (least recently used): Y
  ASSERT_EQ(gx.size(), 4u);
  EXPECT_EQ(run(cat(X, {(gx[0] + 1) % 5000})), 20);   // slot 0 holds X: all of it reused
  EXPECT_EQ(run(Z), 0);                               // evicts slot 1 (Y), not slot 0 (just used)
  EXPECT_EQ(run(Y), 0);                               // Y was evicted; evicts slot 0 (X...)
  EXPECT_EQ(run(Z, &gz), 19);                         // the same prompt: all but its last token
  EXPECT_EQ(run(X), 0);                               // X was evicted; evicts Y
  ASSERT_EQ(gz.size(), 4u);
  // diverging inside the generated tokens the slot holds (Z + gz[0..3)); one
  // more token so that the prompt's all-but-last limit does not hide it
  EXPECT_EQ(run(cat(Z, {gz[0], gz[1], (gz[2] + 1) % 5000, 777})), 22);
  // diverging inside the prompt
  EXPECT_EQ(run(cat(std::vector<int32_t>(Z.begin(), Z.begin() + 10), {900, 901, 902})), 10);
  EXPECT_TRUE(wait_until([&] { return s.stats().active == 0; }));
  EXPECT_EQ(s.stats().cached_prompt_tokens, total_cached);
}

TEST(Scheduler, CancelAndDisconnectFreeTheSlot) {
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 2;
  Scheduler s(tiny(), &tok(), o);
  const SubmitResult a = s.submit(greedy_job(prompt_ids(0), 100000 / 2), c.sink(0));
  ASSERT_EQ(a.code, SubmitResult::Code::kOk);
  // a sink that says the client is gone at its first event: with logprobs
  // asked for there is an event for every token, so that is the first token
  Job leaving = greedy_job(prompt_ids(1), 1000);
  leaving.top_logprobs = 0;
  ASSERT_EQ(s.submit(leaving, c.sink(1, false)).code, SubmitResult::Code::kOk);
  ASSERT_TRUE(wait_until([&] { return c.peek(0).events > 0; })) << "job 0 never streamed";
  s.cancel(a.id);
  const Outcome r = c.wait(0);
  EXPECT_EQ(r.finish, FinishReason::kCancelled);
  EXPECT_TRUE(wait_until([&] { return s.stats().active == 0; })) << s.stats().active << " still active";
  // the sink that said the client was gone got one last event, with the usage
  const Outcome gone = c.wait(1);
  EXPECT_EQ(gone.events, 2);
  EXPECT_EQ(gone.finish, FinishReason::kCancelled);
  EXPECT_EQ(gone.usage.completion_tokens, 1);
  EXPECT_EQ(gone.logprobs.size(), 1u);
}

// max_queue 0 means no waiting beyond the free sequences, not "refuse everything"
// (issue 13); the refusal once both are busy is tested end to end (hardening.test.mjs)
TEST(Scheduler, QueueOfZeroTakesJobsWhileASlotIsFree) {
  using Code = SubmitResult::Code;
  Collector c;
  Scheduler s(tiny(), &tok(), SchedulerOptions{.max_sequences = 2, .max_queue = 0, .context = 64});
  ASSERT_EQ(s.submit(greedy_job({1, 2, 3}, 2), c.sink(0)).code, Code::kOk) << "an idle scheduler";
  ASSERT_EQ(s.submit(greedy_job({4, 5}, 3), c.sink(1)).code, Code::kOk) << "a second slot is free";
  EXPECT_EQ(c.wait(0).usage.completion_tokens, 2);
  EXPECT_EQ(c.wait(1).usage.completion_tokens, 3);
  EXPECT_EQ(s.submit(greedy_job({1, 2, 3}, 1), c.sink(2)).code, Code::kOk) << "free again";
  EXPECT_EQ(c.wait(2).usage.completion_tokens, 1);
}

// Issue 13's burst: whatever the engine has moved into slots yet, a burst
// gets exactly max_sequences + max_queue in (the queue once counted only
// max_queue, so 17 to 24 of 64 got in with 8 + 16).
TEST(Scheduler, ABurstGetsExactlySequencesPlusQueue) {
  using Code = SubmitResult::Code;
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 4;
  o.max_queue = 3;
  o.context = 64;
  Gate gate({1});
  Scheduler s(tiny(), &tok(), o);
  OpenOnExit open{gate};
  // the engine is held inside the first job's first event: it moves no other job into a slot
  Job running = greedy_job({1, 2, 3}, 60);
  running.top_logprobs = 0;
  const SubmitResult first = s.submit(running, gate.wrap(c.sink(0)));
  ASSERT_EQ(first.code, Code::kOk);
  ASSERT_TRUE(gate.wait_held(1));
  std::vector<uint64_t> taken{first.id};
  int refused = 0;
  for (int i = 1; i < 20; ++i) {
    const SubmitResult r = s.submit(greedy_job({1, 2, 3}, 60), c.sink(i));
    if (r.code == Code::kOk) taken.push_back(r.id);
    refused += r.code == Code::kQueueFull ? 1 : 0;
  }
  EXPECT_EQ(taken.size(), 7u);
  EXPECT_EQ(refused, 13);
  for (uint64_t id : taken) s.cancel(id);
  gate.release_all();
  EXPECT_EQ(c.wait(0).finish, FinishReason::kCancelled);
}

TEST(Scheduler, RefusesWhenTheQueueIsFullAndChecksJobs) {
  using Code = SubmitResult::Code;
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 1;
  o.max_queue = 1;
  o.context = 64;
  Gate gate({1});
  Scheduler s(tiny(), &tok(), o);
  OpenOnExit open{gate};
  // the first job holds the one slot (frozen at its first token), the second waits, the third is refused
  Job running = greedy_job({1, 2, 3}, 60);
  running.top_logprobs = 0;  // an event at the first token
  const SubmitResult first = s.submit(running, gate.wrap(c.sink(0)));
  ASSERT_EQ(first.code, Code::kOk);
  ASSERT_TRUE(gate.wait_held(1));
  EXPECT_EQ(s.stats().active, 1);
  const SubmitResult second = s.submit(greedy_job({1, 2, 3}, 60), c.sink(1));
  EXPECT_EQ(second.code, Code::kOk);
  const SubmitResult third = s.submit(greedy_job({1, 2, 3}, 60), c.sink(2));
  EXPECT_EQ(third.code, Code::kQueueFull);
  EXPECT_NE(third.message.find("queue is full"), std::string::npos) << third.message;
  s.cancel(first.id);
  s.cancel(second.id);
  gate.release_all();
  EXPECT_EQ(c.wait(0).finish, FinishReason::kCancelled);
  EXPECT_EQ(c.wait(1).finish, FinishReason::kCancelled);
  EXPECT_EQ(c.wait(1).usage.completion_tokens, 0) << "cancelled while queued";
  // room again: a job is taken and runs
  ASSERT_EQ(s.submit(greedy_job({1, 2, 3}, 2), c.sink(3)).code, Code::kOk);
  EXPECT_EQ(c.wait(3).usage.completion_tokens, 2);

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

// Logprobs against an independent computation: the log-softmax, in double, of
// the logits a fresh forward pass gives over the prompt and the tokens the
// job produced. Sampled (not greedy) tokens make logprob differ from top[0].
TEST(Scheduler, LogprobsAreTheLogSoftmaxOfTheLogits) {
  const int64_t vocab = tiny().config().vocab_size;
  const auto prompt = prompt_ids(2);
  constexpr int kTokens = 6, kTop = 3;
  for (const bool sampled : {false, true}) {
    SCOPED_TRACE(sampled ? "sampled" : "greedy");
    Collector c;
    Scheduler s(tiny(), &tok(), {});
    Job j = greedy_job(prompt, kTokens);
    j.top_logprobs = kTop;
    if (sampled) {
      j.sampling.temperature = 1.0f;
      j.sampling.seed = 11;
    }
    ASSERT_EQ(s.submit(j, c.sink(0)).code, SubmitResult::Code::kOk);
    const Outcome r = c.wait(0);
    ASSERT_EQ(r.logprobs.size(), static_cast<std::size_t>(kTokens));
    std::vector<int32_t> ids = prompt;
    for (const TokenLogprob& t : r.logprobs) ids.push_back(t.id);
    const int64_t first = static_cast<int64_t>(prompt.size()) - 1;
    int rows = 0, not_best = 0;
    std::vector<int32_t> order(static_cast<std::size_t>(vocab));
    for_each_logits_row(tiny(), ids, 0, [&](int64_t row, const float* l) {
      if (row < first || row >= first + kTokens) return;
      ++rows;
      const TokenLogprob& t = r.logprobs[row - first];
      const double lse = logsumexp(l, vocab);
      EXPECT_NEAR(t.logprob, l[t.id] - lse, 5e-5) << "row " << row;
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + kTop + 1, order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
      ASSERT_EQ(t.top.size(), static_cast<std::size_t>(kTop));
      for (int k = 0; k < kTop; ++k) {
        EXPECT_NEAR(t.top[k].second, l[order[k]] - lse, 5e-5) << "row " << row << ", alternative " << k;
        // the id is certain where its logit is apart from its neighbours'
        const bool apart = (k == 0 || l[order[k - 1]] - l[order[k]] > 1e-4) && l[order[k]] - l[order[k + 1]] > 1e-4;
        if (apart) {
          EXPECT_EQ(t.top[k].first, order[k]) << "row " << row << ", alternative " << k;
        }
      }
      if (!sampled) {
        EXPECT_EQ(t.id, order[0]) << "greedy picks the most likely token";
      }
      not_best += t.id != t.top[0].first;
    });
    EXPECT_EQ(rows, kTokens);
    if (sampled) {
      EXPECT_GT(not_best, 0) << "every sampled token was the most likely: logprob == top[0] proves nothing";
    }
  }
}

// Shutdown cancels a running and a queued job. The running one cannot finish
// on its own (its limits are far beyond any test's length), and it is frozen
// at its first token until shutdown has begun, so it is surely running then.
TEST(Scheduler, ShutdownCancelsWhatIsLeftAndRefusesNewJobs) {
  using Code = SubmitResult::Code;
  Collector c;
  Gate gate({1});
  SchedulerOptions o;
  o.max_sequences = 1;
  o.context = int64_t{1} << 24;
  auto s = std::make_unique<Scheduler>(tiny(), &tok(), o);
  OpenOnExit open{gate};
  Job endless = greedy_job(prompt_ids(0), int64_t{1} << 23);
  endless.top_logprobs = 0;
  ASSERT_EQ(s->submit(endless, gate.wrap(c.sink(0))).code, Code::kOk);
  ASSERT_TRUE(gate.wait_held(1));
  ASSERT_EQ(s->submit(greedy_job({1, 2}, 4), c.sink(1)).code, Code::kOk);  // waits for the one slot
  auto stopping = std::async(std::launch::async, [&] { s->shutdown(std::chrono::milliseconds(0)); });
  gate.release_all();
  stopping.get();
  const Outcome running = c.wait(0), queued = c.wait(1);
  EXPECT_EQ(running.finish, FinishReason::kCancelled);
  EXPECT_GE(running.usage.completion_tokens, 1);
  EXPECT_EQ(queued.finish, FinishReason::kCancelled);
  EXPECT_EQ(queued.events, 1);
  EXPECT_EQ(s->submit(greedy_job({1, 2}, 4), c.sink(2)).code, Code::kShuttingDown);
  const SchedulerStats st = s->stats();
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(st.queued, 0);
}

// A second SIGTERM: hurry() ends a long shutdown wait at once, and what is
// left still gets its last event.
TEST(Scheduler, HurryEndsTheShutdownWait) {
  Collector c;
  SchedulerOptions o;
  o.max_sequences = 1;
  o.context = int64_t{1} << 24;
  auto s = std::make_unique<Scheduler>(tiny(), &tok(), o);
  Job endless = greedy_job(prompt_ids(0), int64_t{1} << 23);
  endless.top_logprobs = 0;
  ASSERT_EQ(s->submit(endless, c.sink(0)).code, SubmitResult::Code::kOk);
  const auto t0 = std::chrono::steady_clock::now();
  auto stopping = std::async(std::launch::async, [&] { s->shutdown(std::chrono::hours(1)); });
  s->hurry();
  stopping.get();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::minutes(1));
  EXPECT_EQ(c.wait(0).finish, FinishReason::kCancelled);
}

}  // namespace
}  // namespace dsv3::test
