#include "server/routes.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "server/anthropic_http.h"
#include "server/http_generation.h"
#include "server/json_dump.h"
#include "server/tokenize.h"
#include "server/web_page.h"
#include "server/websocket_chat.h"

namespace dsv3::server {

using nlohmann::json;
using http::verb;

namespace {

void reply_json(Exchange& x, const JsonOrError& r) {
  if (auto* e = std::get_if<ApiError>(&r)) return x.reply_error(*e);
  x.reply(http::status::ok, dump(std::get<json>(r)));
}

}  // namespace

Routes::Routes(ServerContext ctx) : c_(ctx), table_(c_.metrics, c_.limiter, c_.keys, c_.origins, c_.auth_throttle) {
  // open to all: browsers, load balancers and scrapers carry no key
  table_.add({.method = verb::get, .path = "/", .handler = [](Exchange& x) {
                x.reply(http::status::ok, std::string(chat_page()), "text/html; charset=utf-8");
              }});
  table_.add({.method = verb::get, .path = "/health", .handler = [this](Exchange& x) { health(x); }});
  table_.add({.method = verb::get, .path = "/metrics", .handler = [this](Exchange& x) {
                x.reply(http::status::ok, c_.metrics.render(c_.scheduler.stats()), "text/plain; version=0.0.4");
              }});
  table_.add({.method = verb::get, .path = "/v1/models", .needs_key = true, .handler = [this](Exchange& x) { models(x); }});
  table_.add({.method = verb::get, .path = "/v1/models/{id}", .needs_key = true, .handler = [this](Exchange& x) { models(x); }});
  table_.add({.method = verb::post, .path = "/v1/chat/completions", .needs_key = true, .rate_limited = true,
              .handler = [this](Exchange& x) {
                generate_over_http(x, c_.scheduler, c_.model, Endpoint::kChat, c_.max_json_depth, c_.streams);
              }});
  table_.add({.method = verb::post, .path = "/v1/completions", .needs_key = true, .rate_limited = true,
              .handler = [this](Exchange& x) {
                generate_over_http(x, c_.scheduler, c_.model, Endpoint::kCompletion, c_.max_json_depth, c_.streams);
              }});
  // the Anthropic Messages API: the same engine path, Anthropic's shapes (its errors included)
  table_.add({.method = verb::post, .path = "/v1/messages", .needs_key = true, .rate_limited = true,
              .errors = ErrorShape::kAnthropic, .handler = [this](Exchange& x) {
                messages_over_http(x, c_.scheduler, c_.model, c_.max_json_depth, c_.streams);
              }});
  table_.add({.method = verb::post, .path = "/v1/messages/count_tokens", .needs_key = true,
              .errors = ErrorShape::kAnthropic,
              .handler = [this](Exchange& x) { count_tokens_over_http(x, c_.model, c_.max_json_depth); }});
  // llama-server's tokenizer endpoints, behind the key like the API
  table_.add({.method = verb::post, .path = "/tokenize", .needs_key = true, .handler = [this](Exchange& x) {
                reply_json(x, tokenize_body(x.req.body(), c_.model, c_.max_json_depth));
              }});
  table_.add({.method = verb::post, .path = "/detokenize", .needs_key = true, .handler = [this](Exchange& x) {
                reply_json(x, detokenize_body(x.req.body(), c_.model, c_.max_json_depth));
              }});
  table_.add({.method = verb::get, .path = "/ws", .needs_key = true, .rate_limited = true, .websocket = true,
              .handler = [this](Exchange& x) { serve_websocket_chat(x, c_); }});
}

Response Routes::rejected(http::status status, std::string_view reason, std::string_view target) {
  c_.metrics.request("invalid", static_cast<int>(status), 0.0);
  // unread, so no method or path: the transport's reason instead
  log::info(fmt::format("- - {} rejected: {}", static_cast<int>(status), reason));
  return error_response(invalid(static_cast<int>(status), "", std::string(reason), ""), false,
                        table_.errors_for(target));
}

void Routes::health(Exchange& x) {
  const SchedulerStats s = c_.scheduler.stats();
  const bool draining = draining_.load();
  const Status model = c_.scheduler.health();  // a split model whose ranks are out of step cannot serve
  json body = {{"status", !model.ok() ? "unhealthy" : draining ? "shutting down" : "ok"}, {"model", c_.model.id},
               {"active", s.active}, {"queued", s.queued}};
  if (!model.ok()) body["error"] = model.error().message;
  x.reply(draining || !model.ok() ? http::status::service_unavailable : http::status::ok, dump(body));
}

// /v1/models lists the one model; /v1/models/{id} (an empty id lists too) describes it.
void Routes::models(Exchange& x) {
  static const int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  json m = {{"id", c_.model.id}, {"object", "model"}, {"created", created}, {"owned_by", "dsv3"},
            {"context_length", c_.model.context}};
  const std::string& id = x.path_param;
  if (id.empty()) return x.reply(http::status::ok, dump(json{{"object", "list"}, {"data", json::array({m})}}));
  // any id names the served model, as requests may, unless --strict-model-name
  if (c_.model.strict_model_name && id != c_.model.id)
    return x.reply_error(invalid(404, "model", fmt::format("the model '{}' does not exist", id), "model_not_found"));
  x.reply(http::status::ok, dump(m));
}

}  // namespace dsv3::server
