#include "engine/scheduler.h"

#include <algorithm>
#include <optional>

#include "base/thread_pool.h"
#include "engine/sequence.h"
#include "engine/token_ids.h"

namespace dsv3 {

namespace {
using Clock = Sequence::Clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
// Whether a cache holding `held` holds all of `prompt`.
bool holds(const std::vector<int32_t>& held, const std::vector<int32_t>& prompt) {
  return held.size() >= prompt.size() && std::equal(prompt.begin(), prompt.end(), held.begin());
}
}  // namespace

struct Scheduler::Pending {
  uint64_t id = 0;
  Job job;
  JobSink sink;
  Clock::time_point submitted;
  // its only events, one per sample: cancelled before it started (the usage: its prompt, once)
  void cancel() const {
    for (int32_t i = 0; i < job.n; ++i) {
      JobEvent e;
      e.sample = i;
      e.done = true;
      e.finish = FinishReason::kCancelled;
      if (i == 0) e.usage.prompt_tokens = static_cast<int64_t>(job.prompt.size());
      sink(e);
    }
  }
};

// A running job's samples. Sample 0 computes the prompt; once it has, the
// others start from its cache (forked) and its last hidden row.
struct Scheduler::Group {
  uint64_t id = 0;
  int32_t n = 1;
  Job job;  // what each sample runs, its seed moved on by the sample's index
  JobSink sink;
  Clock::time_point submitted;
  int32_t started = 1;        // samples given a slot or ended; the rest wait
  bool prompt_ready = false;  // sample 0 has computed the whole prompt
  bool cancelled = false;
  std::vector<float> last_row;  // the prompt's last hidden state (n > 1)

  Job sample_job(int32_t i) const {
    Job j = job;
    if (j.sampling.seed) *j.sampling.seed += static_cast<uint64_t>(i);  // reproducible, and the samples differ
    return j;
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
  std::shared_ptr<Group> group;
  bool first_from_group = false;  // forked: its first token comes from the group's last prompt row

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
      const bool busy =
          !forking_.empty() || std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->busy(); });
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
    auto is_cancelled = [&](uint64_t id) { return std::find(cancels.begin(), cancels.end(), id) != cancels.end(); };
    for (auto& s : slots_)
      if (s->busy() && is_cancelled(s->job_id)) finish(*s, FinishReason::kCancelled);  // and its siblings
    if (!cancels.empty() && !forking_.empty()) {
      const std::vector<std::shared_ptr<Group>> waiting = forking_;  // cancel_group edits forking_
      for (const auto& g : waiting)
        if (is_cancelled(g->id)) cancel_group(*g);
    }
    admit();
    step();
    publish_stats();
  }
  // stopping: whatever is left is cancelled
  for (auto& s : slots_)
    if (s->busy()) finish(*s, FinishReason::kCancelled);
  while (!forking_.empty()) {
    const std::shared_ptr<Group> g = forking_.front();  // alive while cancel_group takes it out
    cancel_group(*g);
  }
  std::deque<std::unique_ptr<Pending>> left;
  {
    std::lock_guard lk(mu_);
    left.swap(queue_);
  }
  for (auto& p : left) p->cancel();
  publish_stats();
}

void Scheduler::admit() {
  // samples of running jobs first: their prompt is computed, and waiting could lose its cache
  start_samples();
  if (!forking_.empty()) return;
  for (;;) {
    if (std::all_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->busy(); })) return;
    std::unique_ptr<Pending> p;
    {
      std::lock_guard lk(mu_);
      if (queue_.empty()) return;
      p = std::move(queue_.front());
      queue_.pop_front();
      stats_.active += p->job.n;  // at once, so that shutdown never sees it as neither queued nor active
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
    auto g = std::make_shared<Group>();
    g->id = p->id;
    g->n = p->job.n;
    g->submitted = p->submitted;
    s.group = g;
    s.first_from_group = false;
    if (g->n == 1) {
      s.seq.emplace(std::move(p->job), std::move(p->sink), p->submitted, tokenizer_, vocab_, best_len, room);
    } else {
      g->job = std::move(p->job);
      g->sink = std::move(p->sink);
      g->last_row.resize(static_cast<std::size_t>(hidden_));
      s.seq.emplace(g->sample_job(0), g->sink, g->submitted, tokenizer_, vocab_, best_len, room, 0);
    }
    if (s.seq->max_tokens() == 0) finish(s, FinishReason::kLength);
  }
}

void Scheduler::start_samples() {
  while (!forking_.empty()) {
    const std::shared_ptr<Group> g = forking_.front();
    while (g->started < g->n) {
      // a free slot: one that holds the prompt already, else the least recently used
      Slot* best = nullptr;
      bool best_has = false;
      for (auto& slot : slots_) {
        Slot* s = slot.get();
        if (s->busy()) continue;
        const bool has = holds(s->tokens, g->job.prompt);
        if (!best || (has && !best_has) || (has == best_has && s->last_used < best->last_used)) {
          best = s;
          best_has = has;
        }
      }
      if (!best) return;
      start_sample(*best, g);
    }
    forking_.erase(forking_.begin());
  }
}

void Scheduler::start_sample(Slot& s, const std::shared_ptr<Group>& g) {
  const int32_t i = g->started++;
  const std::vector<int32_t>& prompt = g->job.prompt;
  const int64_t n = static_cast<int64_t>(prompt.size());
  if (!holds(s.tokens, prompt)) {
    // fork: a copy of a cache holding the prompt (a sibling's, running or finished)
    const auto from = std::find_if(slots_.begin(), slots_.end(), [&](const auto& o) { return holds(o->tokens, prompt); });
    if (from != slots_.end()) {
      s.cache = (*from)->cache;
      s.tokens.assign(prompt.begin(), prompt.end());
    }
  }
  int64_t done = n;
  s.first_from_group = holds(s.tokens, prompt);
  // else no slot holds the prompt any more (others' jobs took them): it is computed again
  if (!s.first_from_group) done = reusable_prefix(s.tokens, prompt);
  s.tokens.resize(static_cast<std::size_t>(done));
  s.last_used = ++clock_;
  s.prompt_done = done;
  s.next = -1;
  s.job_id = g->id;
  s.group = g;
  s.seq.emplace(g->sample_job(i), g->sink, g->submitted, tokenizer_, vocab_, done, options_.context - n, i);
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
  std::vector<Slot*>& sampling = sampling_;
  sampling.clear();
  if (!chunks_.empty()) {
    int64_t rows = 0;
    for (const auto& c : chunks_) rows += static_cast<int64_t>(c.ids.size());
    if (static_cast<int64_t>(hidden_states_.size()) < rows * hidden_)
      hidden_states_.resize(static_cast<std::size_t>(rows * hidden_));
    if (const Status st = model_.forward(chunks_, hidden_states_.data()); !st.ok()) {
      for (Slot* s : chunk_slots_) finish(*s, FinishReason::kStop, st.error().message);
      return;
    }
    // the rows that yield a token: every decode row and the last row of a finished prompt
    int64_t row = 0;
    for (std::size_t k = 0; k < chunks_.size(); ++k) {
      Slot& s = *chunk_slots_[k];
      const int64_t m = static_cast<int64_t>(chunks_[k].ids.size());
      s.tokens.insert(s.tokens.end(), chunks_[k].ids.begin(), chunks_[k].ids.end());
      const bool was_prefill = s.prefilling();
      if (was_prefill) s.prompt_done += m;
      row += m;
      if (s.prefilling()) continue;
      const float* last = hidden_states_.data() + (row - 1) * hidden_;
      Group& g = *s.group;
      if (was_prefill && !g.prompt_ready) {
        // the job's prompt is computed: its other samples may start from here
        g.prompt_ready = true;
        if (g.started < g.n) {
          std::copy_n(last, hidden_, g.last_row.data());
          forking_.push_back(s.group);
        }
      }
      pick_row(last, &s);
    }
  }
  // samples forked from a computed prompt (now or in admit): their first token comes from its last row
  start_samples();
  for (auto& s : slots_)
    if (s->busy() && s->first_from_group) {
      s->first_from_group = false;
      pick_row(s->group->last_row.data(), s.get());
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

void Scheduler::pick_row(const float* row, Slot* s) {
  std::vector<Slot*>& sampling = sampling_;
  if (static_cast<int64_t>(picked_.size()) < static_cast<int64_t>(sampling.size() + 1) * hidden_)
    picked_.resize((sampling.size() + 1) * static_cast<std::size_t>(hidden_));
  std::copy_n(row, hidden_, picked_.data() + sampling.size() * hidden_);
  sampling.push_back(s);
}

void Scheduler::take_token(Slot& s) {
  if (!s.busy()) return;  // its group was cancelled by a sibling's sink this step
  if (const std::optional<FinishReason> end = s.seq->take_sampled()) return finish(s, *end);
  s.next = s.seq->sampled();
}

void Scheduler::finish(Slot& s, FinishReason why, std::string error) {
  if (!s.busy()) return;  // ended with its group already
  // accounted before the sink hears of it, so that the stats are current by then
  const JobUsage& u = s.seq->usage();
  {
    std::lock_guard lk(mu_);
    stats_.prompt_tokens += u.prompt_tokens;
    stats_.cached_prompt_tokens += u.cached_prompt_tokens;
    stats_.completion_tokens += u.completion_tokens;
    --stats_.active;
  }
  s.seq->finish(why, error);
  // an unfinished prompt leaves only what it computed; that stays for reuse
  s.seq.reset();
  s.next = -1;
  s.first_from_group = false;
  const std::shared_ptr<Group> g = std::move(s.group);
  // samples not started have no prompt to start from: they end the same way
  if (!g->prompt_ready) end_unstarted(*g, why, error);
  if (why == FinishReason::kCancelled) cancel_group(*g);
}

void Scheduler::end_unstarted(Group& g, FinishReason why, const std::string& error) {
  for (; g.started < g.n; ++g.started) {
    JobEvent e;
    e.sample = g.started;
    e.done = true;
    e.finish = why;
    e.error = error;
    e.usage.queue_seconds = e.usage.total_seconds = seconds_since(g.submitted);
    {
      std::lock_guard lk(mu_);
      --stats_.active;
    }
    g.sink(e);
  }
  std::erase_if(forking_, [&](const auto& p) { return p.get() == &g; });
}

void Scheduler::cancel_group(Group& g) {
  if (g.cancelled) return;
  g.cancelled = true;
  end_unstarted(g, FinishReason::kCancelled, {});
  for (auto& s : slots_)
    if (s->busy() && s->group.get() == &g) finish(*s, FinishReason::kCancelled);
}

void Scheduler::publish_stats() {
  int64_t active = 0, cached = 0;
  for (const auto& s : slots_) {
    active += s->busy() ? 1 : 0;
    cached += static_cast<int64_t>(s->tokens.size());
  }
  for (const auto& g : forking_) active += g->n - g->started;
  std::lock_guard lk(mu_);
  stats_.active = active;
  stats_.cache_tokens = cached;
  stats_.queued = static_cast<int64_t>(queue_.size());
  ++stats_.steps;
  if (active == 0 && queue_.empty()) idle_cv_.notify_all();
}

}  // namespace dsv3
