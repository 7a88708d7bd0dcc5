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

// Writes one generation's answer. Called on the engine thread, except started().
class AnswerWriter {
 public:
  virtual ~AnswerWriter() = default;
  virtual bool client_gone() const = 0;
  virtual void started() {}                       // the job is queued (on the caller's thread)
  virtual void delta(const JobEvent& e) = 0;      // text and/or logprobs
  virtual void finish(const JobEvent& last) = 0;  // the job ended without error
  virtual void fail(const ApiError& e) = 0;       // the job ended with an engine error
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
