// The one route table: method and path to a handler, with what the route
// needs before its handler runs (an API key, a WebSocket upgrade from an
// allowed Origin) and whether
// its generations count against the rate limits. dispatch() answers CORS
// preflights, unknown paths (404), wrong methods (405), missing keys (401)
// and plain requests to upgrade routes (426) itself.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/auth.h"
#include "server/auth_throttle.h"
#include "server/http_exchange.h"
#include "server/metrics.h"
#include "server/origins.h"
#include "server/rate_limit.h"

namespace dsv3::server {

struct Route {
  http::verb method = http::verb::get;
  std::string path;           // exact, or ending in "{id}": that prefix and any rest (Exchange::path_param)
  bool needs_key = false;     // with API keys on, a request without a valid one gets 401
  bool rate_limited = false;  // its generations are admitted and charged per client
  bool websocket = false;     // answered by a WebSocket upgrade; a plain request gets 426
  ErrorShape errors = ErrorShape::kOpenAI;  // the shape of its errors, the table's own (401, 405, 429) too
  std::function<void(Exchange&)> handler;
};

class RouteTable {
 public:
  RouteTable(Metrics& metrics, RateLimiter& limiter, const ApiKeys& keys, AllowedOrigins origins = {},
             AuthThrottle* throttle = nullptr);
  void add(Route route);

  struct Match {
    const Route* route = nullptr;  // the route for this method and path; null: none
    std::string label = "other";   // metrics label: the path's route, or "other" for unknown paths
    std::string allowed;           // the methods the path takes ("GET", "GET, POST"); empty: unknown path
    std::string param;             // what "{id}" matched
    ErrorShape errors = ErrorShape::kOpenAI;  // the path's first route's
  };
  Match match(http::verb method, std::string_view path) const;
  // The error shape for a request target (query and all) of any method: its path's routes'.
  ErrorShape errors_for(std::string_view target) const;

  // Answers the request: through its route's handler, or with an error.
  void dispatch(Request&& req, const std::shared_ptr<HttpSession>& session) const;

 private:
  // Sets the client for rate limits; with keys on, answers 401 and returns false when none matches.
  // The key comes as `Authorization: Bearer KEY` or (Anthropic's way) `x-api-key: KEY`;
  // only a WebSocket route takes it as ?api_key=.
  bool authorize(Exchange& x, bool websocket) const;

  Metrics& metrics_;
  RateLimiter& limiter_;
  const ApiKeys& keys_;
  AllowedOrigins origins_;  // for the Origin check of WebSocket upgrades
  AuthThrottle* throttle_;  // null: bad keys are not throttled
  std::vector<Route> routes_;
};

}  // namespace dsv3::server
