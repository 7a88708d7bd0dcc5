// A generation answered over HTTP: one JSON body, or an SSE stream when the
// request asks for "stream".
#pragma once
#include "engine/scheduler.h"
#include "server/http_exchange.h"
#include "server/stream_limits.h"
#include "server/openai_request.h"

namespace dsv3::server {

// Parses the exchange's body as a request to `endpoint` and answers it; a
// client that goes away cancels its job. `streams`: see start_generation.
void generate_over_http(Exchange& x, Scheduler& scheduler, const ModelInfo& model, Endpoint endpoint, int max_json_depth,
                        StreamLimits* streams = nullptr);

}  // namespace dsv3::server
