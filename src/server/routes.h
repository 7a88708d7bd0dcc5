// The server's endpoints: routing, keys, rate limits and metrics around the
// OpenAI API, the WebSocket protocol and the chat page. Generation goes
// through the Scheduler; engine events are turned into wire messages here.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "engine/scheduler.h"
#include "server/auth.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_api.h"
#include "server/rate_limit.h"

namespace dsv3::server {

struct ServerContext {
  Scheduler& scheduler;
  const ModelInfo& model;
  const ApiKeys& keys;
  RateLimiter& limiter;
  Metrics& metrics;
  uint64_t max_body_bytes = 1 << 20;
};

class Routes : public HttpHandler {
 public:
  explicit Routes(ServerContext ctx) : c_(ctx) {}
  void handle(Request&& req, const std::shared_ptr<HttpSession>& session) override;
  void rejected(int status) override { c_.metrics.request("invalid", status, 0.0); }
  void connection(int delta) override { c_.metrics.connection(delta); }
  // From now on /health answers 503 so load balancers move on.
  void begin_shutdown() { draining_.store(true); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Exchange;  // one request's route, start time and reply path
  void reply(Exchange& x, http::status status, std::string body, const char* type = "application/json");
  void reply_error(Exchange& x, const ApiError& e);
  // The client's name for rate limits, or an error (401) when keys are on and none matches.
  std::optional<std::string> authorize(Exchange& x, const Request& req);
  void generate(Exchange& x, Endpoint endpoint, const std::string& client);
  void websocket(Exchange& x, const std::string& client);
  void models(Exchange& x, std::string_view id);

  ServerContext c_;
  std::atomic<bool> draining_{false};
};

}  // namespace dsv3::server
