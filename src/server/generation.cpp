#include "server/generation.h"

#include <algorithm>
#include <optional>

namespace dsv3::server {

namespace {

// Folds a sample's last event into the job's: usage summed (each sample
// counts only what it computed), the first error, cancelled if any was.
void add_sample(JobEvent& total, const JobEvent& e, bool first) {
  JobUsage& t = total.usage;
  const JobUsage& u = e.usage;
  t.prompt_tokens += u.prompt_tokens;
  t.cached_prompt_tokens += u.cached_prompt_tokens;
  t.completion_tokens += u.completion_tokens;
  if (first) t.queue_seconds = u.queue_seconds;
  if (u.completion_tokens > 0 && (t.time_to_first_token == 0 || u.time_to_first_token < t.time_to_first_token))
    t.time_to_first_token = u.time_to_first_token;
  t.total_seconds = std::max(t.total_seconds, u.total_seconds);
  if (first || e.finish == FinishReason::kCancelled) total.finish = e.finish;
  if (total.error.empty()) total.error = e.error;
}

// The job's sink: what every transport does with an engine event.
struct Generation {
  RequestAccount account;
  std::shared_ptr<AnswerWriter> out;
  std::optional<StreamLimits::Lease> lease;  // the client's place under --max-streams-per-key
  int32_t samples = 1;  // the job's n
  int32_t ended = 0;    // samples whose last event came
  JobEvent total;       // the ended ones, folded

  bool on_event(const JobEvent& e) {
    // read once; a job dropped here still gets a last event per sample (done,
    // with its usage), where it is accounted for like any other
    const bool gone = out->client_gone();
    if (!e.done && gone) return false;
    const bool last = e.done && ++ended == samples;
    if (e.done) add_sample(total, e, ended == 1);
    if (last) {
      total.done = true;
      lease.reset();  // before the last message: a client that has it may start another
      out->job_ended();
      account.finished(total, gone);
    }
    if (gone) return true;  // nobody to write to
    if (!e.text.empty() || !e.logprobs.empty()) out->delta(e);
    if (e.done && e.error.empty()) out->sample_done(e);
    if (last) {
      if (total.error.empty()) {
        out->finish(total);
      } else {
        out->fail(server_error(total.error));
      }
    }
    return true;  // a client gone since is caught at the next event (or by its cancel)
  }
};

}  // namespace

uint64_t start_generation(Scheduler& scheduler, RequestAccount account, ParseResult parsed, AnswerChannel& channel,
                          StreamLimits* streams) {
  auto refuse = [&](const ApiError& e) {
    account.answered(e.status);
    channel.refuse(e);
    return uint64_t{0};
  };
  if (auto* e = std::get_if<ApiError>(&parsed)) return refuse(*e);
  ParsedRequest& p = std::get<ParsedRequest>(parsed);
  const bool capped = streams && streams->limit() > 0;
  std::optional<StreamLimits::Lease> lease = capped ? streams->acquire(account.client()) : std::nullopt;
  if (capped && !lease) return refuse(too_many_streams(streams->limit()));
  if (auto e = account.admit(static_cast<int64_t>(p.job.prompt.size()))) return refuse(*e);

  auto gen = std::make_shared<Generation>(Generation{account, channel.open(p), std::move(lease), p.job.n, 0, {}});
  const SubmitResult r = scheduler.submit(std::move(p.job), [gen](const JobEvent& e) { return gen->on_event(e); });
  if (r.code != SubmitResult::Code::kOk) return refuse(engine_refusal(r));
  // the caller is on the answer's strand, so this runs before any event the engine posts
  gen->out->started();
  return r.id;
}

}  // namespace dsv3::server
