#include "server/websocket_chat.h"

#include <memory>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "server/generation.h"
#include "server/json_dump.h"
#include "server/openai_response.h"
#include "server/websocket.h"
#include "server/websocket_message.h"

namespace dsv3::server {

using nlohmann::json;

namespace {

// One connection's conversation with the engine: one request at a time.
class WsConversation final : public AnswerChannel, public std::enable_shared_from_this<WsConversation> {
 public:
  WsConversation(Scheduler& scheduler, const ModelInfo& model, int max_json_depth, StreamLimits* streams,
                 RequestAccount account, std::weak_ptr<WsSession> ws)
      : scheduler_(scheduler),
        model_(model),
        max_json_depth_(max_json_depth),
        streams_(streams),
        account_(std::move(account)),
        ws_(std::move(ws)) {}

  void on_message(const std::string& text);
  void on_close() { cancel_running(); }

  void send(const json& j) {
    if (auto w = ws_.lock()) w->send(dump(j));
  }
  void send_error(const ApiError& e) {
    json j = error_body(e);
    j["type"] = "error";
    send(j);
  }
  bool gone() const {
    auto w = ws_.lock();
    return !w || w->gone();
  }
  void job_ended() {
    std::lock_guard lock(mu_);
    running_ = 0;
  }

  void refuse(const ApiError& e) override { send_error(e); }
  std::shared_ptr<AnswerWriter> open(const ParsedRequest& p) override;

 private:
  void cancel_running() {
    uint64_t id = 0;
    {
      std::lock_guard lock(mu_);
      id = running_;
    }
    if (id) scheduler_.cancel(id);
  }

  Scheduler& scheduler_;
  const ModelInfo& model_;
  int max_json_depth_;
  StreamLimits* streams_;
  RequestAccount account_;  // the route and client; each request is timed from its message
  std::weak_ptr<WsSession> ws_;
  std::mutex mu_;
  uint64_t running_ = 0;  // the job in flight, 0 if none
};

// Chunks as messages, then a "done" message with the whole text and usage.
class WsAnswer final : public AnswerWriter {
 public:
  WsAnswer(std::shared_ptr<WsConversation> conv, ResponseBuilder builder, bool logprobs)
      : conv_(std::move(conv)), builder_(std::move(builder)), logprobs_(logprobs) {}
  bool client_gone() const override { return conv_->gone(); }
  void job_ended() override { conv_->job_ended(); }
  void delta(const JobEvent& e) override {
    text_.append(e.text);
    const auto c = builder_.chunk(e.text, e.logprobs, logprobs_, nullptr);
    if (!ResponseBuilder::says_nothing(c)) conv_->send(c);
  }
  void finish(const JobEvent& last) override {
    conv_->send(builder_.chunk("", {}, false, &last.finish));
    conv_->send({{"type", "done"},
                 {"id", builder_.id()},
                 {"finish_reason", finish_name(last.finish)},
                 {"message", {{"role", "assistant"}, {"content", text_}}},
                 {"usage", ResponseBuilder::usage(last.usage)}});
  }
  void fail(const ApiError& e) override { conv_->send_error(e); }

 private:
  std::shared_ptr<WsConversation> conv_;
  ResponseBuilder builder_;
  bool logprobs_;
  std::string text_;
};

std::shared_ptr<AnswerWriter> WsConversation::open(const ParsedRequest& p) {
  ResponseBuilder builder(Endpoint::kChat, model_.id, model_, p.output);
  // the role chunk tells the client its request was taken, before it is queued
  send(builder.role_chunk());
  return std::make_shared<WsAnswer>(shared_from_this(), std::move(builder), p.logprobs);
}

void WsConversation::on_message(const std::string& text) {
  RequestAccount account = account_.restarted();
  WsMessage m = parse_ws_message(text, max_json_depth_);
  if (const auto* e = std::get_if<ApiError>(&m)) return send_error(*e);
  if (std::holds_alternative<WsCancel>(m)) return cancel_running();
  // held across submit so the job's end cannot clear `running_` before it is set
  std::lock_guard lock(mu_);
  if (running_)
    return send_error(invalid("", "a request is already running on this connection; wait for its "
                                  "'done' message or send {\"type\":\"cancel\"}", "busy"));
  running_ = start_generation(scheduler_, std::move(account),
                              parse_request_json(Endpoint::kChat, std::get<WsChat>(m).body, model_), *this, streams_);
}

}  // namespace

void serve_websocket_chat(Exchange& x, const ServerContext& c) {
  x.account.answered(101);
  // the upgrade's place under the connection caps goes with the WebSocket until it closes
  auto ticket = std::make_shared<std::optional<ConnectionLimits::Ticket>>(x.session->take_ticket());
  auto ws = std::make_shared<WsSession>(x.session->take_stream(),
                                        WsSession::Limits{c.ws_max_message_bytes, c.ws_max_messages_per_minute});
  auto conv = std::make_shared<WsConversation>(c.scheduler, c.model, c.max_json_depth, c.streams, x.account, ws);
  c.metrics.connection(+1);
  ws->accept(std::move(x.req), {[conv](std::string m) { conv->on_message(m); },
                                [conv, &m = c.metrics, ticket] {
                                  ticket->reset();
                                  m.connection(-1);
                                  conv->on_close();
                                }});
}

}  // namespace dsv3::server
