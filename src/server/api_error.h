// The API's errors in the OpenAI shape, {"error": {message, type, param,
// code}}, or the Anthropic one, {"type": "error", "error": {type, message}}
// (the /v1/messages routes), and the refusals that routes, generations and the transport share:
// each is worded once here, whatever the wire it goes out on.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/scheduler.h"
#include "server/rate_limit.h"

namespace dsv3::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;        // empty: null
  std::string code;         // empty: null
  int64_t retry_after = 0;  // seconds, sent as Retry-After when > 0
};
nlohmann::json error_body(const ApiError& e);

// Which API's shape an error goes out in: a route's, since clients of each
// SDK only read their own.
enum class ErrorShape { kOpenAI, kAnthropic };
// Anthropic's type names the status (invalid_request_error 400,
// authentication_error 401, ...), whatever e.type says.
nlohmann::json anthropic_error_body(const ApiError& e);
nlohmann::json error_body(const ApiError& e, ErrorShape shape);

// A request the API will not take (400 unless said otherwise).
ApiError invalid(std::string param, std::string message, std::string code = {});
ApiError invalid(int status, std::string param, std::string message, std::string code);

ApiError unauthorized(bool key_presented);                                                     // 401
ApiError method_not_allowed(std::string_view path, std::string_view allowed, std::string_view method);  // 405
ApiError rate_limited(const RateLimiter::Decision& refusal);                                     // 429
ApiError auth_throttled(double retry_after);  // 429: too many bad keys from one address
ApiError too_many_streams(int64_t limit);     // 429: --max-streams-per-key
ApiError engine_refusal(const SubmitResult& r);                  // 400, or 503 when busy or shutting down
ApiError server_error(std::string message);                      // 500: the engine failed a generation
ApiError cut_off();  // 503: a running stream ended by the server's shutdown

}  // namespace dsv3::server
