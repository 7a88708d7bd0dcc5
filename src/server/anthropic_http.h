// The Anthropic Messages API over HTTP: POST /v1/messages answered as one
// JSON message or a stream of named SSE events, and
// /v1/messages/count_tokens. Errors go out in Anthropic's shape.
#pragma once
#include "engine/scheduler.h"
#include "server/http_exchange.h"
#include "server/openai_request.h"
#include "server/stream_limits.h"

namespace dsv3::server {

// Parses the exchange's body as a /v1/messages request and answers it; a
// client that goes away cancels its job. `streams`: see start_generation.
void messages_over_http(Exchange& x, Scheduler& scheduler, const ModelInfo& model, int max_json_depth,
                        StreamLimits* streams = nullptr);

// {"input_tokens": N} for the body's prompt; nothing is generated.
void count_tokens_over_http(Exchange& x, const ModelInfo& model, int max_json_depth);

}  // namespace dsv3::server
