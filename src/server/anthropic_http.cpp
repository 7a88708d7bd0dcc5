#include "server/anthropic_http.h"

#include <memory>
#include <string>
#include <vector>

#include "server/anthropic_request.h"
#include "server/anthropic_response.h"
#include "server/generation.h"
#include "server/json_dump.h"
#include "server/sse.h"

namespace dsv3::server {

namespace {

Response anthropic_error(const ApiError& e, bool keep_alive) {
  return error_response(e, keep_alive, ErrorShape::kAnthropic);
}

// How the one sample ended (a message has one: n is always 1 here), kept
// for the job's end, which brings the usage.
class SampleEnd {
 public:
  void keep(const JobEvent& last) {
    finish_ = last.finish;
    stop_.assign(last.stop_string);
  }
  JobEvent with_usage(const JobEvent& total) const {
    JobEvent e = total;
    e.finish = finish_;
    e.stop_string = stop_;
    return e;
  }

 private:
  FinishReason finish_ = FinishReason::kLength;
  std::string stop_;  // the event's view does not outlive it
};

// The whole message in one JSON body (stream off).
class JsonMessage final : public AnswerWriter {
 public:
  JsonMessage(std::shared_ptr<HttpSession> session, std::string model_id, text::OutputFormat format)
      : session_(std::move(session)), model_id_(std::move(model_id)), format_(format) {}
  bool client_gone() const override { return session_->gone(); }
  void delta(const JobEvent& e) override { text_.append(e.text); }
  void sample_done(const JobEvent& last) override { end_.keep(last); }
  void finish(const JobEvent& total) override {
    // cut off by the shutdown: a partial message would pass for a whole one
    if (total.finish == FinishReason::kCancelled) return fail(cut_off());
    const auto body = anthropic_message(model_id_, text_, format_, end_.with_usage(total));
    session_->reply(make_response(http::status::ok, dump(body), "application/json", true));
  }
  void fail(const ApiError& e) override { session_->reply(anthropic_error(e, true)); }

 private:
  std::shared_ptr<HttpSession> session_;
  std::string model_id_;
  text::OutputFormat format_;
  std::string text_;
  SampleEnd end_;
};

// Named server-sent events; the stream ends with message_stop, or an error event.
class SseMessage final : public AnswerWriter {
 public:
  SseMessage(std::shared_ptr<HttpSession> session, std::string model_id, const ParsedRequest& p)
      : session_(std::move(session)),
        stream_(std::move(model_id), p.output, static_cast<int64_t>(p.job.prompt.size())) {}
  bool client_gone() const override { return session_->gone(); }
  void started() override {
    session_->stream_begin(http::status::ok, "text/event-stream");
    write(stream_.start());
  }
  void delta(const JobEvent& e) override { write(stream_.delta(e.text)); }
  void sample_done(const JobEvent& last) override { end_.keep(last); }
  void finish(const JobEvent& total) override {
    // a stream whose client is still there is only cancelled by the shutdown:
    // an error event says it was cut off, so clients do not take it as whole
    if (total.finish == FinishReason::kCancelled) return fail(cut_off());
    write(stream_.finish(end_.with_usage(total)));
    session_->stream_end();
  }
  void fail(const ApiError& e) override {
    session_->stream_write(sse_event(anthropic_error_body(e), "error"));
    session_->stream_end();
  }

 private:
  void write(const std::vector<AnthropicStream::Event>& events) {
    std::string out;
    for (const auto& ev : events) out += sse_event(ev.data, ev.name);
    if (!out.empty()) session_->stream_write(std::move(out));
  }

  std::shared_ptr<HttpSession> session_;
  AnthropicStream stream_;
  SampleEnd end_;
};

// Refusals are whole error responses, whatever the request asked for.
class MessagesChannel final : public AnswerChannel {
 public:
  MessagesChannel(Exchange& x, const ModelInfo& model) : x_(x), model_(model) {}
  void refuse(const ApiError& e) override { x_.session->reply(anthropic_error(e, x_.req.keep_alive())); }
  std::shared_ptr<AnswerWriter> open(const ParsedRequest& p) override {
    if (p.stream) return std::make_shared<SseMessage>(x_.session, model_.id, p);
    return std::make_shared<JsonMessage>(x_.session, model_.id, p.output);
  }

 private:
  Exchange& x_;
  const ModelInfo& model_;
};

}  // namespace

void messages_over_http(Exchange& x, Scheduler& scheduler, const ModelInfo& model, int max_json_depth,
                        StreamLimits* streams) {
  MessagesChannel channel(x, model);
  const uint64_t id =
      start_generation(scheduler, x.account, parse_anthropic_request(x.req.body(), model, max_json_depth), channel, streams);
  if (id) x.session->on_gone([&scheduler, id] { scheduler.cancel(id); });
}

void count_tokens_over_http(Exchange& x, const ModelInfo& model, int max_json_depth) {
  auto n = count_anthropic_tokens(x.req.body(), model, max_json_depth);
  if (auto* e = std::get_if<ApiError>(&n)) return x.reply_error(*e);
  x.reply(http::status::ok, dump(nlohmann::json{{"input_tokens", std::get<int64_t>(n)}}));
}

}  // namespace dsv3::server
