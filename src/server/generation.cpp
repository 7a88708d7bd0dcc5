#include "server/generation.h"

#include <optional>

namespace dsv3::server {

namespace {

// The job's sink: what every transport does with an engine event.
struct Generation {
  RequestAccount account;
  std::shared_ptr<AnswerWriter> out;
  std::optional<StreamLimits::Lease> lease;  // the client's place under --max-streams-per-key

  bool on_event(const JobEvent& e) {
    // read once; a job dropped here still gets a last event (done, with its
    // usage), where it is accounted for like any other
    const bool gone = out->client_gone();
    if (!e.done && gone) return false;
    if (e.done) {
      lease.reset();  // before the last message: a client that has it may start another
      out->job_ended();
      account.finished(e, gone);
    }
    if (gone) return true;  // nobody to write to
    if (!e.text.empty() || !e.logprobs.empty()) out->delta(e);
    if (e.done) {
      if (e.error.empty()) {
        out->finish(e);
      } else {
        out->fail(server_error(e.error));
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

  auto gen = std::make_shared<Generation>(Generation{account, channel.open(p), std::move(lease)});
  const SubmitResult r = scheduler.submit(std::move(p.job), [gen](const JobEvent& e) { return gen->on_event(e); });
  if (r.code != SubmitResult::Code::kOk) return refuse(engine_refusal(r));
  // the caller is on the answer's strand, so this runs before any event the engine posts
  gen->out->started();
  return r.id;
}

}  // namespace dsv3::server
