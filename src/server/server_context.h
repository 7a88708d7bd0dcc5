// What the endpoints share: the engine, the served model, keys, limits and metrics.
#pragma once
#include <cstdint>

#include "engine/scheduler.h"
#include "server/auth.h"
#include "server/auth_throttle.h"
#include "server/json_depth.h"
#include "server/metrics.h"
#include "server/origins.h"
#include "server/openai_request.h"
#include "server/rate_limit.h"
#include "server/stream_limits.h"

namespace dsv3::server {

struct ServerContext {
  Scheduler& scheduler;
  const ModelInfo& model;
  const ApiKeys& keys;
  RateLimiter& limiter;
  Metrics& metrics;
  uint64_t max_body_bytes = 1 << 20;
  uint64_t ws_max_message_bytes = 1 << 20;  // past it a WebSocket closes with 1009
  uint32_t ws_max_messages_per_minute = 600;  // per connection, past it a WebSocket closes with 1008; 0: unlimited
  int max_json_depth = kDefaultMaxJsonDepth;  // deeper request bodies and messages get 400
  AllowedOrigins origins;                     // CORS and the WebSocket Origin check
  AuthThrottle* auth_throttle = nullptr;      // bad keys per address; null: not throttled
  StreamLimits* streams = nullptr;            // concurrent generations per client; null: unlimited
};

}  // namespace dsv3::server
