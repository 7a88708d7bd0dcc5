#include "engine/scheduler.h"

#include <algorithm>
#include <optional>

#include "base/thread_pool.h"
#include "engine/sequence.h"
#include "engine/token_ids.h"

namespace dsv3 {

namespace {
using Clock = Sequence::Clock;
}  // namespace

struct Scheduler::Pending {
  uint64_t id = 0;
  Job job;
  JobSink sink;
  Clock::time_point submitted;
  // its only event: cancelled before it started (the usage: its prompt)
  void cancel() const {
    JobEvent e;
    e.done = true;
    e.finish = FinishReason::kCancelled;
    e.usage.prompt_tokens = static_cast<int64_t>(job.prompt.size());
    sink(e);
  }
};

struct Scheduler::Slot {
  explicit Slot(LatentCache c) : cache(std::move(c)) {}
  LatentCache cache;
  std::vector<int32_t> tokens;  // what the cache holds, position by position
  uint64_t last_used = 0;       // admission counter of its latest job

  // the job it runs, if any
  std::optional<Sequence> seq;
  uint64_t job_id = 0;
  int64_t prompt_done = 0;  // prompt tokens in the cache
  int32_t next = -1;        // the sampled token to feed next step

  bool busy() const { return seq.has_value(); }
  bool prefilling() const { return busy() && prompt_done < static_cast<int64_t>(seq->job().prompt.size()); }
};

Scheduler::Scheduler(ForwardPass& model, const text::Tokenizer* tokenizer, SchedulerOptions options)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      vocab_(model.config().vocab_size),
      hidden_(model.config().hidden_size) {
  options_.max_sequences = std::max<int64_t>(1, options_.max_sequences);
  options_.prefill_chunk = std::max<int64_t>(1, options_.prefill_chunk);
  options_.context = std::max<int64_t>(2, options_.context);
  for (int64_t i = 0; i < options_.max_sequences; ++i)
    slots_.push_back(std::make_unique<Slot>(model_.make_cache(0, options_.cache_dtype)));
  stats_.cache_capacity_tokens = options_.max_sequences * options_.context;
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { shutdown(std::chrono::milliseconds(0)); }

SubmitResult Scheduler::submit(Job job, JobSink sink) {
  using Code = SubmitResult::Code;
  const int64_t n = static_cast<int64_t>(job.prompt.size());
  if (n >= options_.context)
    return {Code::kInvalid, 0,
            fmt::format("the prompt is {} tokens; the context holds {} (prompt and completion)", n, options_.context)};
  if (const Status s = check_job(job, vocab_, tokenizer_ != nullptr); !s.ok()) return {Code::kInvalid, 0, s.error().message};
  auto p = std::make_unique<Pending>();
  p->job = std::move(job);
  p->sink = std::move(sink);
  p->submitted = Clock::now();
  std::lock_guard lk(mu_);
  if (stopping_) return {Code::kShuttingDown, 0, "the server is shutting down"};
  // max_queue counts waiting beyond the free slots: jobs queued for a free slot are about to run,
  // so with max_queue 0 an idle scheduler still takes work
  const int64_t free_slots = std::max<int64_t>(0, options_.max_sequences - stats_.active);
  if (static_cast<int64_t>(queue_.size()) >= options_.max_queue + free_slots)
    return {Code::kQueueFull, 0, fmt::format("the queue is full ({} waiting)", queue_.size())};
  p->id = next_id_++;
  const uint64_t id = p->id;
  queue_.push_back(std::move(p));
  stats_.queued = static_cast<int64_t>(queue_.size());
  cv_.notify_all();
  return {Code::kOk, id, {}};
}

void Scheduler::cancel(uint64_t id) {
  std::lock_guard lk(mu_);
  cancelled_.push_back(id);
  cv_.notify_all();
}

void Scheduler::shutdown(std::chrono::milliseconds deadline) {
  std::unique_lock lk(mu_);
  if (!thread_.joinable()) return;
  stopping_ = true;
  idle_cv_.wait_for(lk, deadline, [&] { return hurry_ || (queue_.empty() && stats_.active == 0); });
  stop_now_ = true;
  cv_.notify_all();
  lk.unlock();
  thread_.join();
}

void Scheduler::hurry() {
  std::lock_guard lk(mu_);
  hurry_ = true;
  idle_cv_.notify_all();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void Scheduler::loop() {
  for (;;) {
    std::vector<uint64_t> cancels;
    std::vector<std::unique_ptr<Pending>> dropped;
    {
      const bool busy = std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->busy(); });
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_now_ || busy || !cancelled_.empty() || !queue_.empty(); });
      if (stop_now_) break;
      cancels.swap(cancelled_);
      for (uint64_t id : cancels) {
        auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& p) { return p->id == id; });
        if (it == queue_.end()) continue;
        dropped.push_back(std::move(*it));
        queue_.erase(it);
      }
    }
    for (auto& p : dropped) p->cancel();
    for (auto& s : slots_)
      if (s->busy() && std::find(cancels.begin(), cancels.end(), s->job_id) != cancels.end())
        finish(*s, FinishReason::kCancelled);
    admit();
    step();
    publish_stats();
  }
  // stopping: whatever is left is cancelled
  for (auto& s : slots_)
    if (s->busy()) finish(*s, FinishReason::kCancelled);
  std::deque<std::unique_ptr<Pending>> left;
  {
    std::lock_guard lk(mu_);
    left.swap(queue_);
  }
  for (auto& p : left) p->cancel();
  publish_stats();
}

void Scheduler::admit() {
  for (;;) {
    if (std::all_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->busy(); })) return;
    std::unique_ptr<Pending> p;
    {
      std::lock_guard lk(mu_);
      if (queue_.empty()) return;
      p = std::move(queue_.front());
      queue_.pop_front();
      ++stats_.active;  // at once, so that shutdown never sees it as neither queued nor active
    }
    // the free slot holding the longest reusable prefix of the prompt; else the least recently used
    const std::vector<int32_t>& prompt = p->job.prompt;
    Slot* best = nullptr;
    int64_t best_len = -1;
    for (auto& slot : slots_) {
      Slot* s = slot.get();
      if (s->busy()) continue;
      const int64_t k = reusable_prefix(s->tokens, prompt);
      if (k > best_len || (k == best_len && s->last_used < best->last_used)) {
        best = s;
        best_len = k;
      }
    }
    Slot& s = *best;
    s.tokens.resize(static_cast<std::size_t>(best_len));
    s.last_used = ++clock_;
    s.prompt_done = best_len;
    s.next = -1;
    s.job_id = p->id;
    const int64_t room = options_.context - static_cast<int64_t>(prompt.size());
    s.seq.emplace(std::move(p->job), std::move(p->sink), p->submitted, tokenizer_, vocab_, best_len, room);
    if (s.seq->max_tokens() == 0) finish(s, FinishReason::kLength);
  }
}

void Scheduler::step() {
  chunks_.clear();
  chunk_slots_.clear();
  for (auto& s : slots_)
    if (s->busy() && !s->prefilling() && s->next >= 0) {
      chunks_.push_back({std::span<const int32_t>(&s->next, 1), static_cast<int64_t>(s->tokens.size()), &s->cache});
      chunk_slots_.push_back(s.get());
    }
  // prompts share a per-step budget, oldest first, so decoding streams keep flowing
  std::vector<Slot*>& waiting = waiting_;
  waiting.clear();
  for (auto& s : slots_)
    if (s->prefilling()) waiting.push_back(s.get());
  std::sort(waiting.begin(), waiting.end(), [](Slot* a, Slot* b) { return a->last_used < b->last_used; });
  int64_t budget = options_.prefill_chunk;
  for (Slot* s : waiting) {
    if (budget == 0) break;
    const std::vector<int32_t>& prompt = s->seq->job().prompt;
    const int64_t m = std::min<int64_t>(budget, static_cast<int64_t>(prompt.size()) - s->prompt_done);
    chunks_.push_back({std::span<const int32_t>(prompt).subspan(s->prompt_done, m), s->prompt_done, &s->cache});
    chunk_slots_.push_back(s);
    budget -= m;
  }
  if (chunks_.empty()) return;

  int64_t rows = 0;
  for (const auto& c : chunks_) rows += static_cast<int64_t>(c.ids.size());
  if (static_cast<int64_t>(hidden_states_.size()) < rows * hidden_)
    hidden_states_.resize(static_cast<std::size_t>(rows * hidden_));
  if (const Status st = model_.forward(chunks_, hidden_states_.data()); !st.ok()) {
    for (Slot* s : chunk_slots_) finish(*s, FinishReason::kStop, st.error().message);
    return;
  }
  // the rows that yield a token: every decode row and the last row of a finished prompt
  std::vector<Slot*>& sampling = sampling_;
  sampling.clear();
  int64_t row = 0;
  for (std::size_t k = 0; k < chunks_.size(); ++k) {
    Slot& s = *chunk_slots_[k];
    const int64_t m = static_cast<int64_t>(chunks_[k].ids.size());
    s.tokens.insert(s.tokens.end(), chunks_[k].ids.begin(), chunks_[k].ids.end());
    const bool was_prefill = s.prefilling();
    if (was_prefill) s.prompt_done += m;
    row += m;
    if (s.prefilling()) continue;
    if (static_cast<int64_t>(picked_.size()) < static_cast<int64_t>(sampling.size() + 1) * hidden_)
      picked_.resize((sampling.size() + 1) * static_cast<std::size_t>(hidden_));
    std::copy_n(hidden_states_.data() + (row - 1) * hidden_, hidden_, picked_.data() + sampling.size() * hidden_);
    sampling.push_back(&s);
  }
  if (sampling.empty()) return;
  const int64_t k = static_cast<int64_t>(sampling.size());
  if (static_cast<int64_t>(logits_.size()) < k * vocab_) logits_.resize(static_cast<std::size_t>(k * vocab_));
  if (const Status st = model_.logits(picked_.data(), k, logits_.data()); !st.ok()) {
    for (Slot* s : sampling) finish(*s, FinishReason::kStop, st.error().message);
    return;
  }
  // sampling reads a vocabulary-sized row per sequence: spread it over the
  // threads; what follows (text, events) stays in order on this thread
  if (options_.pool != nullptr && k > 1)
    options_.pool->parallel_for(k, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sampling[i]->seq->sample(logits_.data() + i * vocab_);
    });
  else
    for (int64_t i = 0; i < k; ++i) sampling[i]->seq->sample(logits_.data() + i * vocab_);
  for (int64_t i = 0; i < k; ++i) take_token(*sampling[i]);
}

void Scheduler::take_token(Slot& s) {
  if (const std::optional<FinishReason> end = s.seq->take_sampled()) return finish(s, *end);
  s.next = s.seq->sampled();
}

void Scheduler::finish(Slot& s, FinishReason why, std::string error) {
  // accounted before the sink hears of it, so that the stats are current by then
  const JobUsage& u = s.seq->usage();
  {
    std::lock_guard lk(mu_);
    stats_.prompt_tokens += u.prompt_tokens;
    stats_.cached_prompt_tokens += u.cached_prompt_tokens;
    stats_.completion_tokens += u.completion_tokens;
    --stats_.active;
  }
  s.seq->finish(why, std::move(error));
  // an unfinished prompt leaves only what it computed; that stays for reuse
  s.seq.reset();
  s.next = -1;
}

void Scheduler::publish_stats() {
  int64_t active = 0, cached = 0;
  for (const auto& s : slots_) {
    active += s->busy() ? 1 : 0;
    cached += static_cast<int64_t>(s->tokens.size());
  }
  std::lock_guard lk(mu_);
  stats_.active = active;
  stats_.cache_tokens = cached;
  stats_.queued = static_cast<int64_t>(queue_.size());
  ++stats_.steps;
  if (active == 0 && queue_.empty()) idle_cv_.notify_all();
}

}  // namespace dsv3
