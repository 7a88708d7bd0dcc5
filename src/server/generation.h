// Engine events to the wire, once for every transport. A generation request
// goes parse -> admit (rate limits) -> submit; its events then go to an
// AnswerWriter (a JSON body, an SSE stream or WebSocket messages) that only
// formats. Refusals, the 500 of a failed job, and the accounting of its end
// are done here, the same for all of them.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/scheduler.h"
#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/request_account.h"
#include "server/stream_limits.h"

namespace dsv3::server {

// Writes one generation's answer, of the job's n samples (choices). Called
// on the engine thread, one call at a time, except started().
class AnswerWriter {
 public:
  virtual ~AnswerWriter() = default;
  virtual bool client_gone() const = 0;
  virtual void started() {}                   // the job is queued (on the caller's thread)
  virtual void delta(const JobEvent& e) = 0;  // text and/or logprobs of sample e.sample
  // Sample last.sample ended without error (its finish reason); its text came in deltas.
  virtual void sample_done(const JobEvent& last) = 0;
  // Every sample ended, none with an error. total: usage summed over them
  // (the prompt once); finish: kCancelled if any sample was cancelled.
  virtual void finish(const JobEvent& total) = 0;
  // Every sample ended, one (at least) with an engine error.
  virtual void fail(const ApiError& e) = 0;
  // The job's last event arrived, before it is accounted for or written,
  // whether or not the client is still there.
  virtual void job_ended() {}
};

// Where a generation request is answered: an HTTP exchange or a WebSocket conversation.
class AnswerChannel {
 public:
  virtual ~AnswerChannel() = default;
  // The request will not run: invalid, rate limited, or refused by the scheduler (already counted).
  virtual void refuse(const ApiError& e) = 0;
  // The request was admitted: the writer for its answer.
  virtual std::shared_ptr<AnswerWriter> open(const ParsedRequest& p) = 0;
};

// Runs a parsed request through admission and the scheduler, its answer
// going to `channel`. Returns the job's id, or 0 when it was refused. With
// `streams`, the client's concurrent generations are capped (429 beyond).
uint64_t start_generation(Scheduler& scheduler, RequestAccount account, ParseResult parsed, AnswerChannel& channel,
                          StreamLimits* streams = nullptr);

}  // namespace dsv3::server
