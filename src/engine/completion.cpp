#include "engine/completion.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace dsv3 {

double Completion::prefill_seconds() const {
  const double end = usage.completion_tokens > 0 ? usage.time_to_first_token : usage.total_seconds;
  return end - usage.queue_seconds;
}

double Completion::decode_seconds() const {
  return usage.completion_tokens > 0 ? usage.total_seconds - usage.time_to_first_token : 0.0;
}

namespace {
// What the engine thread has reported, read by the waiting caller.
struct Progress {
  std::mutex mu;
  std::condition_variable cv;
  Completion result;
  bool done = false;
  std::string error;
};
// How often a waiting caller looks at its cancel flag.
constexpr std::chrono::milliseconds kCancelPoll{20};
}  // namespace

Result<Completion> complete(Scheduler& scheduler, Job job, const TextSink& on_text, const std::atomic<bool>* cancel) {
  auto progress = std::make_shared<Progress>();  // the sink (held by the scheduler) shares it
  const SubmitResult submitted = scheduler.submit(std::move(job), [progress](const JobEvent& e) {
    std::lock_guard lk(progress->mu);
    Completion& r = progress->result;
    r.text.append(e.text);
    r.tokens.insert(r.tokens.end(), e.tokens.begin(), e.tokens.end());
    if (e.done) {
      r.finish = e.finish;
      r.usage = e.usage;
      progress->error = e.error;
      progress->done = true;
    }
    progress->cv.notify_one();
    return true;
  });
  if (submitted.code != SubmitResult::Code::kOk) return make_error("{}", submitted.message);

  std::size_t shown = 0;
  std::string piece;  // copied out, so that the sink never waits for on_text
  bool cancel_sent = false;
  for (;;) {
    std::unique_lock lk(progress->mu);
    progress->cv.wait_for(lk, kCancelPoll, [&] { return progress->done || progress->result.text.size() > shown; });
    piece.assign(progress->result.text, shown);
    shown = progress->result.text.size();
    const bool done = progress->done;
    lk.unlock();
    if (!piece.empty() && on_text) on_text(piece);
    if (done) break;
    if (cancel && !cancel_sent && cancel->load(std::memory_order_relaxed)) {
      scheduler.cancel(submitted.id);
      cancel_sent = true;
    }
  }
  std::lock_guard lk(progress->mu);
  if (!progress->error.empty()) return make_error("{}", progress->error);
  return std::move(progress->result);
}

SchedulerOptions one_sequence_options(DType cache_dtype) {
  SchedulerOptions o;
  o.max_sequences = 1;
  o.max_queue = 1;
  o.context = int64_t{1} << 40;
  o.prefill_chunk = 512;
  o.cache_dtype = cache_dtype;
  return o;
}

}  // namespace dsv3
