#include "server/http_generation.h"

#include <memory>
#include <string>
#include <vector>

#include "server/generation.h"
#include "server/json_dump.h"
#include "server/openai_response.h"
#include "server/sse.h"

namespace dsv3::server {

namespace {

// The whole answer in one JSON body (stream off).
class JsonAnswer final : public AnswerWriter {
 public:
  JsonAnswer(std::shared_ptr<HttpSession> session, ResponseBuilder builder, bool logprobs)
      : session_(std::move(session)), builder_(std::move(builder)), logprobs_(logprobs) {}
  bool client_gone() const override { return session_->gone(); }
  void delta(const JobEvent& e) override {
    text_.append(e.text);
    if (logprobs_) lps_.insert(lps_.end(), e.logprobs.begin(), e.logprobs.end());
  }
  void finish(const JobEvent& last) override {
    const auto body = builder_.full(text_, last.finish, last.usage, lps_, logprobs_);
    session_->reply(make_response(http::status::ok, dump(body), "application/json", true));
  }
  void fail(const ApiError& e) override { session_->reply(error_response(e, true)); }

 private:
  std::shared_ptr<HttpSession> session_;
  ResponseBuilder builder_;
  bool logprobs_;
  std::string text_;
  std::vector<TokenLogprob> lps_;
};

// Chunks as server-sent events, `data: [DONE]` last (stream on).
class SseAnswer final : public AnswerWriter {
 public:
  SseAnswer(std::shared_ptr<HttpSession> session, ResponseBuilder builder, const ParsedRequest& p)
      : session_(std::move(session)),
        builder_(std::move(builder)),
        chat_(p.endpoint == Endpoint::kChat),
        logprobs_(p.logprobs),
        include_usage_(p.include_usage) {}
  bool client_gone() const override { return session_->gone(); }
  void started() override {
    session_->stream_begin(http::status::ok, "text/event-stream");
    if (chat_) session_->stream_write(sse_event(builder_.role_chunk()));
  }
  void delta(const JobEvent& e) override {
    const auto c = builder_.chunk(e.text, e.logprobs, logprobs_, nullptr);
    if (!ResponseBuilder::says_nothing(c)) session_->stream_write(sse_event(c));
  }
  void finish(const JobEvent& last) override {
    session_->stream_write(sse_event(builder_.chunk("", {}, false, &last.finish)));
    if (include_usage_) session_->stream_write(sse_event(builder_.usage_chunk(last.usage)));
    // a stream whose client is still there is only cancelled by the shutdown:
    // an error event says it was cut off, so clients do not take it as whole
    if (last.finish == FinishReason::kCancelled) session_->stream_write(sse_event(error_body(cut_off())));
    end();
  }
  void fail(const ApiError& e) override {
    session_->stream_write(sse_event(error_body(e)));
    end();
  }

 private:
  void end() {
    session_->stream_write(sse_done());
    session_->stream_end();
  }

  std::shared_ptr<HttpSession> session_;
  ResponseBuilder builder_;
  bool chat_, logprobs_, include_usage_;
};

// Refusals are whole error responses, whatever the request asked for.
class HttpChannel final : public AnswerChannel {
 public:
  HttpChannel(Exchange& x, const ModelInfo& model) : x_(x), model_(model) {}
  void refuse(const ApiError& e) override { x_.session->reply(error_response(e, x_.req.keep_alive())); }
  std::shared_ptr<AnswerWriter> open(const ParsedRequest& p) override {
    ResponseBuilder builder(p.endpoint, model_.id, model_, p.output);
    if (p.stream) return std::make_shared<SseAnswer>(x_.session, std::move(builder), p);
    return std::make_shared<JsonAnswer>(x_.session, std::move(builder), p.logprobs);
  }

 private:
  Exchange& x_;
  const ModelInfo& model_;
};

}  // namespace

void generate_over_http(Exchange& x, Scheduler& scheduler, const ModelInfo& model, Endpoint endpoint, int max_json_depth,
                        StreamLimits* streams) {
  HttpChannel channel(x, model);
  // the body is read as JSON whatever Content-Type says (curl -d sends form encoding)
  const uint64_t id =
      start_generation(scheduler, x.account, parse_request(endpoint, x.req.body(), model, max_json_depth), channel, streams);
  if (id) x.session->on_gone([&scheduler, id] { scheduler.cancel(id); });
}

}  // namespace dsv3::server
