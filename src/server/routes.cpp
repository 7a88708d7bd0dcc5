#include "server/routes.h"

#include <fmt/format.h>

#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>

#include "server/sse.h"
#include "server/web_page.h"
#include "server/websocket.h"

namespace dsv3::server {

using nlohmann::json;

struct Routes::Exchange {
  std::shared_ptr<HttpSession> session;
  Request req;
  std::string route;  // metrics label: a known path or "other"
  Clock::time_point t0 = Clock::now();
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - t0).count(); }
};

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

ApiError unauthorized(bool presented) {
  ApiError e;
  e.status = 401;
  e.type = "authentication_error";
  e.code = "invalid_api_key";
  e.message = presented ? "Incorrect API key provided." : "Missing API key: send 'Authorization: Bearer KEY'.";
  return e;
}

ApiError engine_refusal(const SubmitResult& r) {
  ApiError e;
  switch (r.code) {
    case SubmitResult::Code::kQueueFull:
      e.status = 503;
      e.type = "server_error";
      e.code = "queue_full";
      e.message = "the server is busy: its queue is full; try again shortly";
      break;
    case SubmitResult::Code::kShuttingDown:
      e.status = 503;
      e.type = "server_error";
      e.code = "shutting_down";
      e.message = "the server is shutting down";
      break;
    default:
      e.message = r.message.empty() ? "invalid request" : r.message;
      break;
  }
  return e;
}

// Status recorded for a generation that ended: 499 (nginx's "client closed request") when the client left.
int final_status(const JobEvent& e, bool client_gone) {
  if (!e.error.empty()) return 500;
  if (client_gone) return 499;
  return 200;
}

// The parts of an HTTP generation the engine thread works with.
struct HttpGeneration {
  Metrics& metrics;
  RateLimiter& limiter;
  std::shared_ptr<HttpSession> session;
  ResponseBuilder builder;
  bool stream, include_usage, logprobs;
  std::string route, client;
  std::chrono::steady_clock::time_point t0;
  std::string text;                 // the whole answer (stream off)
  std::vector<TokenLogprob> lps;    // all logprobs (stream off)

  bool on_event(const JobEvent& e) {
    // read once; a job dropped here still gets a last event (done, with its
    // usage), where it is accounted for like any other
    const bool gone = session->gone();
    if (!e.done && gone) return false;
    if (e.done) {
      // accounted for before the reply goes out, the request itself last: a
      // client that has its answer, or sees its request counted, finds its
      // tokens in the metrics and charged to its rate limit
      metrics.tokens(e.usage.prompt_tokens, e.usage.cached_prompt_tokens, e.usage.completion_tokens);
      if (e.usage.completion_tokens > 0) metrics.time_to_first_token(e.usage.time_to_first_token);
      limiter.charge(client, e.usage.completion_tokens);
      metrics.request(route, final_status(e, gone), seconds_since(t0));
    }
    if (gone) {
      // nobody to write to
    } else if (stream) {
      if (!e.text.empty() || !e.logprobs.empty()) session->stream_write(sse_event(builder.chunk(e.text, e.logprobs, logprobs, nullptr)));
      if (e.done) {
        if (!e.error.empty()) {
          ApiError err;
          err.status = 500;
          err.type = "server_error";
          err.message = e.error;
          session->stream_write(sse_event(error_body(err)));
        } else {
          session->stream_write(sse_event(builder.chunk("", {}, false, &e.finish)));
          if (include_usage) session->stream_write(sse_event(builder.usage_chunk(e.usage)));
        }
        session->stream_write(sse_done());
        session->stream_end();
      }
    } else {
      text.append(e.text);
      if (logprobs) lps.insert(lps.end(), e.logprobs.begin(), e.logprobs.end());
      if (e.done) {
        if (!e.error.empty()) {
          ApiError err;
          err.status = 500;
          err.type = "server_error";
          err.message = e.error;
          session->reply(make_response(http::status::internal_server_error, dump(error_body(err)), "application/json", true));
        } else {
          session->reply(make_response(http::status::ok, dump(builder.full(text, e.finish, e.usage, lps, logprobs)),
                                       "application/json", true));
        }
      }
    }
    return true;  // a client gone since is caught at the next event (or by its cancel)
  }
};

std::string_view path_of(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

// A query parameter's raw value (no percent-decoding: keys are plain tokens).
std::string query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    const auto eq = kv.find('=');
    if (kv.substr(0, eq) == name && eq != std::string_view::npos) return std::string(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

void Routes::reply(Exchange& x, http::status status, std::string body, const char* type) {
  c_.metrics.request(x.route, static_cast<int>(status), x.elapsed());
  x.session->reply(make_response(status, std::move(body), type, x.req.keep_alive()));
}

void Routes::reply_error(Exchange& x, const ApiError& e) {
  c_.metrics.request(x.route, e.status, x.elapsed());
  Response res = make_response(static_cast<http::status>(e.status), dump(error_body(e)), "application/json", x.req.keep_alive());
  if (e.status == 401) res.set(http::field::www_authenticate, "Bearer");
  x.session->reply(std::move(res));
}

std::optional<std::string> Routes::authorize(Exchange& x, const Request& req) {
  if (!c_.keys.enabled()) return x.session->remote_address();
  std::string header(req[http::field::authorization]);
  if (header.empty()) {
    // browsers cannot set headers on a WebSocket: the key may come as ?api_key=
    const std::string q = query_param(req.target(), "api_key");
    if (!q.empty()) header = "Bearer " + q;
  }
  if (auto i = c_.keys.check(header)) return ApiKeys::label(*i);
  reply_error(x, unauthorized(!header.empty()));
  return std::nullopt;
}

void Routes::handle(Request&& req, const std::shared_ptr<HttpSession>& session) {
  Exchange x{session, std::move(req), "other"};
  const std::string path(path_of(x.req.target()));
  const auto method = x.req.method();

  struct Route {
    const char* path;
    http::verb method;
  };
  static const Route kRoutes[] = {{"/", http::verb::get},
                                  {"/health", http::verb::get},
                                  {"/metrics", http::verb::get},
                                  {"/v1/models", http::verb::get},
                                  {"/v1/chat/completions", http::verb::post},
                                  {"/v1/completions", http::verb::post},
                                  {"/ws", http::verb::get}};
  const Route* route = nullptr;
  for (const Route& r : kRoutes)
    if (path == r.path) route = &r;
  const bool model_path = path.rfind("/v1/models/", 0) == 0;
  if (route) x.route = route->path;
  if (model_path) x.route = "/v1/models/{id}";

  if (method == http::verb::options) {
    // CORS preflight for browser clients on other origins
    c_.metrics.request(x.route, 204, x.elapsed());
    Response res = make_response(http::status::no_content, "", "text/plain", x.req.keep_alive());
    res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type");
    res.set(http::field::access_control_max_age, "86400");
    return x.session->reply(std::move(res));
  }
  if (!route && !model_path) {
    return reply_error(x, [&] {
      ApiError e = invalid("", fmt::format("no route for {} {}", std::string(x.req.method_string()), path), "not_found");
      e.status = 404;
      return e;
    }());
  }
  const http::verb allowed = route ? route->method : http::verb::get;
  if (method != allowed) {
    ApiError e = invalid("", fmt::format("{} takes {}, not {}", path, std::string(http::to_string(allowed)),
                                         std::string(x.req.method_string())),
                         "method_not_allowed");
    e.status = 405;
    c_.metrics.request(x.route, 405, x.elapsed());
    Response res = make_response(http::status::method_not_allowed, dump(error_body(e)), "application/json", x.req.keep_alive());
    res.set(http::field::allow, std::string(http::to_string(allowed)));
    return x.session->reply(std::move(res));
  }

  if (path == "/") return reply(x, http::status::ok, std::string(chat_page()), "text/html; charset=utf-8");
  if (path == "/health") {
    const SchedulerStats s = c_.scheduler.stats();
    const bool draining = draining_.load();
    json body = {{"status", draining ? "shutting down" : "ok"}, {"model", c_.model.id}, {"active", s.active}, {"queued", s.queued}};
    return reply(x, draining ? http::status::service_unavailable : http::status::ok, dump(body));
  }
  if (path == "/metrics") return reply(x, http::status::ok, c_.metrics.render(c_.scheduler.stats()), "text/plain; version=0.0.4");

  auto client = authorize(x, x.req);
  if (!client) return;
  if (path == "/v1/models") return models(x, {});
  if (model_path) return models(x, std::string_view(path).substr(std::string_view("/v1/models/").size()));
  if (path == "/v1/chat/completions") return generate(x, Endpoint::kChat, *client);
  if (path == "/v1/completions") return generate(x, Endpoint::kCompletion, *client);
  if (path == "/ws") return websocket(x, *client);
}

void Routes::models(Exchange& x, std::string_view id) {
  static const int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  json m = {{"id", c_.model.id}, {"object", "model"}, {"created", created}, {"owned_by", "dsv3"},
            {"context_length", c_.model.context}};
  if (id.empty()) return reply(x, http::status::ok, dump(json{{"object", "list"}, {"data", json::array({m})}}));
  if (id != c_.model.id) {
    ApiError e = invalid("model", fmt::format("the model '{}' does not exist", std::string(id)), "model_not_found");
    e.status = 404;
    return reply_error(x, e);
  }
  reply(x, http::status::ok, dump(m));
}

void Routes::generate(Exchange& x, Endpoint endpoint, const std::string& client) {
  // the body is read as JSON whatever Content-Type says (curl -d sends form encoding)
  ParseResult parsed = parse_request(endpoint, x.req.body(), c_.model);
  if (auto* e = std::get_if<ApiError>(&parsed)) return reply_error(x, *e);
  ParsedRequest& p = std::get<ParsedRequest>(parsed);

  const auto d = c_.limiter.admit(client, static_cast<int64_t>(p.job.prompt.size()));
  if (!d.allowed) {
    c_.metrics.rate_limited(d.limit);
    ApiError e;
    e.status = 429;
    e.type = "rate_limit_error";
    e.code = "rate_limit_exceeded";
    const int64_t wait = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(d.retry_after)));
    e.message = fmt::format("rate limit reached for {} per minute; retry in {} s", d.limit, wait);
    c_.metrics.request(x.route, 429, x.elapsed());
    Response res = make_response(http::status::too_many_requests, dump(error_body(e)), "application/json", x.req.keep_alive());
    res.set(http::field::retry_after, std::to_string(wait));
    return x.session->reply(std::move(res));
  }

  auto gen = std::make_shared<HttpGeneration>(HttpGeneration{c_.metrics, c_.limiter, x.session,
                                                             ResponseBuilder(endpoint, c_.model.id, c_.model), p.stream,
                                                             p.include_usage, p.logprobs, x.route, client, x.t0, {}, {}});
  const SubmitResult r = c_.scheduler.submit(std::move(p.job), [gen](const JobEvent& e) { return gen->on_event(e); });
  if (r.code != SubmitResult::Code::kOk) return reply_error(x, engine_refusal(r));
  // we are on the session's strand, so these run before any event the engine posts
  if (gen->stream) {
    x.session->stream_begin(http::status::ok, "text/event-stream");
    if (endpoint == Endpoint::kChat) x.session->stream_write(sse_event(gen->builder.role_chunk()));
  }
  x.session->on_gone([&s = c_.scheduler, id = r.id] { s.cancel(id); });
}

namespace {

// One WebSocket connection's conversation with the engine: one request at a time.
struct WsConversation : std::enable_shared_from_this<WsConversation> {
  Scheduler& scheduler;
  const ModelInfo& model;
  Metrics& metrics;
  RateLimiter& limiter;
  std::string client;
  std::weak_ptr<WsSession> ws;
  std::mutex mu;
  uint64_t running = 0;  // the job in flight, 0 if none

  WsConversation(Scheduler& s, const ModelInfo& m, Metrics& me, RateLimiter& l, std::string c)
      : scheduler(s), model(m), metrics(me), limiter(l), client(std::move(c)) {}

  void send(const json& j) {
    if (auto w = ws.lock()) w->send(dump(j));
  }
  void send_error(const ApiError& e) {
    json j = error_body(e);
    j["type"] = "error";
    send(j);
  }

  void on_message(const std::string& text) {
    const auto t0 = std::chrono::steady_clock::now();
    json msg = json::parse(text, nullptr, false);
    if (msg.is_discarded()) return send_error(invalid("", "the message is not valid JSON", "invalid_json"));
    if (msg.is_object() && msg.contains("type") && msg["type"] == "cancel") {
      uint64_t id = 0;
      {
        std::lock_guard lock(mu);
        id = running;
      }
      if (id) scheduler.cancel(id);
      return;
    }
    if (msg.is_object() && msg.contains("type") && msg["type"] != "chat")
      return send_error(invalid("type", "'type' must be 'chat' (a request) or 'cancel'"));
    if (msg.is_object()) msg.erase("type");
    {
      std::lock_guard lock(mu);
      if (running) return send_error(invalid("", "a request is already running on this connection; wait for its "
                                                 "'done' message or send {\"type\":\"cancel\"}", "busy"));
    }
    ParseResult parsed = parse_request_json(Endpoint::kChat, msg, model);
    if (auto* e = std::get_if<ApiError>(&parsed)) {
      metrics.request("/ws", e->status, seconds_since(t0));
      return send_error(*e);
    }
    ParsedRequest& p = std::get<ParsedRequest>(parsed);
    const auto d = limiter.admit(client, static_cast<int64_t>(p.job.prompt.size()));
    if (!d.allowed) {
      metrics.rate_limited(d.limit);
      metrics.request("/ws", 429, seconds_since(t0));
      ApiError e;
      e.status = 429;
      e.type = "rate_limit_error";
      e.code = "rate_limit_exceeded";
      e.message = fmt::format("rate limit reached for {} per minute; retry in {} s", d.limit,
                              std::max<int64_t>(1, static_cast<int64_t>(std::ceil(d.retry_after))));
      return send_error(e);
    }
    auto builder = std::make_shared<ResponseBuilder>(Endpoint::kChat, model.id, model);
    auto full = std::make_shared<std::string>();
    const bool want_lp = p.logprobs;
    send(builder->role_chunk());
    std::lock_guard lock(mu);  // held across submit so the sink cannot clear `running` before it is set
    const SubmitResult r = scheduler.submit(
        std::move(p.job), [self = shared_from_this(), builder, full, want_lp, t0](const JobEvent& e) {
          auto w = self->ws.lock();
          const bool gone = !w || w->gone();
          if (!e.done && gone) return false;  // the connection closed: drop the job (its last event follows)
          if (gone) {  // that last event: only accounting, nobody to send to
            {
              std::lock_guard lock(self->mu);
              self->running = 0;
            }
            self->metrics.tokens(e.usage.prompt_tokens, e.usage.cached_prompt_tokens, e.usage.completion_tokens);
            self->limiter.charge(self->client, e.usage.completion_tokens);
            self->metrics.request("/ws", 499, seconds_since(t0));
            return true;
          }
          if (!e.text.empty() || !e.logprobs.empty()) {
            full->append(e.text);
            self->send(builder->chunk(e.text, e.logprobs, want_lp, nullptr));
          }
          if (e.done) {
            {
              std::lock_guard lock(self->mu);
              self->running = 0;
            }
            // accounted for before the "done" message goes out, the request last, as over HTTP
            self->metrics.tokens(e.usage.prompt_tokens, e.usage.cached_prompt_tokens, e.usage.completion_tokens);
            if (e.usage.completion_tokens > 0) self->metrics.time_to_first_token(e.usage.time_to_first_token);
            self->limiter.charge(self->client, e.usage.completion_tokens);
            self->metrics.request("/ws", e.error.empty() ? 200 : 500, seconds_since(t0));
            if (!e.error.empty()) {
              ApiError err;
              err.status = 500;
              err.type = "server_error";
              err.message = e.error;
              self->send_error(err);
            } else {
              self->send(builder->chunk("", {}, false, &e.finish));
              self->send({{"type", "done"},
                          {"id", builder->id()},
                          {"finish_reason", finish_name(e.finish)},
                          {"message", {{"role", "assistant"}, {"content", *full}}},
                          {"usage", ResponseBuilder::usage(e.usage)}});
            }
          }
          return true;
        });
    if (r.code != SubmitResult::Code::kOk) {
      const ApiError e = engine_refusal(r);
      metrics.request("/ws", e.status, seconds_since(t0));
      return send_error(e);
    }
    running = r.id;
  }

  void on_close() {
    uint64_t id = 0;
    {
      std::lock_guard lock(mu);
      id = running;
    }
    if (id) scheduler.cancel(id);
  }
};

}  // namespace

void Routes::websocket(Exchange& x, const std::string& client) {
  if (!beast::websocket::is_upgrade(x.req)) {
    return reply_error(x, [] {
      ApiError e = invalid("", "/ws takes a WebSocket upgrade", "upgrade_required");
      e.status = 426;
      return e;
    }());
  }
  c_.metrics.request("/ws", 101, x.elapsed());
  auto ws = std::make_shared<WsSession>(x.session->take_stream(), c_.max_body_bytes);
  auto conv = std::make_shared<WsConversation>(c_.scheduler, c_.model, c_.metrics, c_.limiter, client);
  conv->ws = ws;
  c_.metrics.connection(+1);
  ws->accept(std::move(x.req), {[conv](std::string m) { conv->on_message(m); },
                                [conv, &m = c_.metrics] {
                                  m.connection(-1);
                                  conv->on_close();
                                }});
}

}  // namespace dsv3::server
