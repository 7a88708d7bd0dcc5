// Continuous batching: many generations share one engine thread. Each step
// runs one batched forward over every active sequence (one token for those
// decoding, a chunk of prompt for those prefilling), so new prompts join
// between steps and running streams keep flowing. Finished sequences leave
// their cache behind for prefix reuse: a new prompt that starts with what a
// slot holds (the next turn of a chat) skips recomputing it. A job of n
// samples computes its prompt once, in one slot; the other samples fork that
// cache into free slots and draw their first token from the same logits.
// Samples that find no free slot wait ahead of the queue; when one comes free
// they fork the cache of a sibling (the prompt is computed again only if no
// slot holds it any more).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/job.h"
#include "model/forward_pass.h"
#include "text/tokenizer.h"

namespace dsv3 {
class ThreadPool;

struct SchedulerOptions {
  int64_t max_sequences = 8;    // decoding together
  int64_t max_queue = 64;       // waiting beyond those; more are refused
  int64_t context = 4096;       // prompt + completion tokens per sequence
  int64_t prefill_chunk = 256;  // prompt tokens per step, over all sequences
  DType cache_dtype = DType::F32;
  ThreadPool* pool = nullptr;  // if set, the sequences of a step sample in parallel
};

struct SchedulerStats {
  int64_t queued = 0, active = 0;
  int64_t cache_tokens = 0, cache_capacity_tokens = 0;  // positions held over all slots / the most they may hold
  int64_t prompt_tokens = 0, cached_prompt_tokens = 0, completion_tokens = 0;  // totals
  int64_t steps = 0;
};

struct SubmitResult {
  enum class Code { kOk, kInvalid, kQueueFull, kShuttingDown } code = Code::kOk;
  uint64_t id = 0;
  std::string message;  // names the bad field for kInvalid
};

class Scheduler {
 public:
  // tokenizer may be null: no text and no stop strings, ids only.
  Scheduler(ForwardPass& model, const text::Tokenizer* tokenizer, SchedulerOptions options);
  ~Scheduler();  // cancels whatever is left
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Checks the job (prompt shorter than the context, sampling params,
  // max_tokens >= 0) and queues it. Thread-safe. submit never calls the sink
  // itself (a caller may hold a lock the sink takes), but the engine thread
  // may call it before submit returns. Generation stops with kLength when the
  // context is full.
  SubmitResult submit(Job job, JobSink sink);
  // The job's sink gets a last event (done, kCancelled) unless it has finished. Thread-safe.
  void cancel(uint64_t id);
  // Refuses new jobs, lets running and queued ones finish for up to `deadline`,
  // then cancels the rest and stops the engine thread.
  void shutdown(std::chrono::milliseconds deadline);
  // Ends a shutdown's wait at once (now or when it comes): what is left is
  // cancelled. Thread-safe; for a second SIGTERM.
  void hurry();
  SchedulerStats stats() const;
  // Whether the model can still run passes (see ForwardPass::health).
  Status health() const { return model_.health(); }
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Pending;
  struct Group;
  struct Slot;
  void loop();
  void admit();
  void start_samples();
  void start_sample(Slot& s, const std::shared_ptr<Group>& g);
  void step();
  void pick_row(const float* row, Slot* s);
  void take_token(Slot& s);
  void finish(Slot& s, FinishReason why, std::string error = {});
  void end_unstarted(Group& g, FinishReason why, const std::string& error);
  void cancel_group(Group& g);
  void publish_stats();

  ForwardPass& model_;
  const text::Tokenizer* tokenizer_;
  SchedulerOptions options_;
  int64_t vocab_, hidden_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the engine thread
  std::condition_variable idle_cv_;  // wakes shutdown when all work is done
  std::deque<std::unique_ptr<Pending>> queue_;
  std::vector<uint64_t> cancelled_;
  bool stopping_ = false, stop_now_ = false, hurry_ = false;
  uint64_t next_id_ = 1;
  SchedulerStats stats_;

  // engine thread only
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::shared_ptr<Group>> forking_;  // prompt computed, samples waiting for a slot; oldest first
  uint64_t clock_ = 0;  // admission counter: prefill order and least-recently-used slot
  std::vector<SequenceChunk> chunks_;
  std::vector<Slot*> chunk_slots_, waiting_, sampling_;
  std::vector<float> hidden_states_, picked_, logits_;
  std::thread thread_;
};

}  // namespace dsv3
