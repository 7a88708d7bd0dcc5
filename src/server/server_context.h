// What the endpoints share: the engine, the served model, keys, limits and metrics.
#pragma once
#include <cstdint>

#include "engine/scheduler.h"
#include "server/auth.h"
#include "server/json_depth.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/rate_limit.h"

namespace dsv3::server {

struct ServerContext {
  Scheduler& scheduler;
  const ModelInfo& model;
  const ApiKeys& keys;
  RateLimiter& limiter;
  Metrics& metrics;
  uint64_t max_body_bytes = 1 << 20;  // also the largest WebSocket message
  int max_json_depth = kDefaultMaxJsonDepth;  // deeper request bodies and messages get 400
};

}  // namespace dsv3::server
