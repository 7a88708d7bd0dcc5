#include "server/api_error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace dsv3::server {

using nlohmann::json;

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

namespace {
const char* anthropic_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:  // busy or shutting down: what Anthropic calls overloaded (its 529)
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}
}  // namespace

json anthropic_error_body(const ApiError& e) {
  return {{"type", "error"}, {"error", {{"type", anthropic_type(e.status)}, {"message", e.message}}}};
}

json error_body(const ApiError& e, ErrorShape shape) {
  return shape == ErrorShape::kAnthropic ? anthropic_error_body(e) : error_body(e);
}

ApiError invalid(std::string param, std::string message, std::string code) {
  return invalid(400, std::move(param), std::move(message), std::move(code));
}

ApiError invalid(int status, std::string param, std::string message, std::string code) {
  ApiError e;
  e.status = status;
  e.param = std::move(param);
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

namespace {
ApiError error(int status, const char* type, const char* code, std::string message) {
  ApiError e;
  e.status = status;
  e.type = type;
  e.code = code;
  e.message = std::move(message);
  return e;
}
}  // namespace

ApiError unauthorized(bool key_presented) {
  return error(401, "authentication_error", "invalid_api_key",
               key_presented ? "Incorrect API key provided."
                             : "Missing API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'.");
}

ApiError method_not_allowed(std::string_view path, std::string_view allowed, std::string_view method) {
  return invalid(405, "", fmt::format("{} takes {}, not {}", path, allowed, method), "method_not_allowed");
}

ApiError rate_limited(const RateLimiter::Decision& refusal) {
  // whole seconds, at least one: what a client can sleep on
  const int64_t wait = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(refusal.retry_after)));
  ApiError e = error(429, "rate_limit_error", "rate_limit_exceeded",
                     fmt::format("rate limit reached for {} per minute; retry in {} s", refusal.limit, wait));
  e.retry_after = wait;
  return e;
}

ApiError auth_throttled(double retry_after) {
  const int64_t wait = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(retry_after)));
  ApiError e = error(429, "rate_limit_error", "too_many_auth_failures",
                     fmt::format("too many requests with a wrong or missing API key; retry in {} s", wait));
  e.retry_after = wait;
  return e;
}

ApiError too_many_streams(int64_t limit) {
  ApiError e = error(429, "rate_limit_error", "too_many_streams",
                     fmt::format("this key already has {} generations running (the limit); wait for one to end", limit));
  e.retry_after = 1;
  return e;
}

ApiError engine_refusal(const SubmitResult& r) {
  switch (r.code) {
    case SubmitResult::Code::kQueueFull:
      return error(503, "server_error", "queue_full", "the server is busy: its queue is full; try again shortly");
    case SubmitResult::Code::kShuttingDown:
      return error(503, "server_error", "shutting_down", "the server is shutting down");
    default:
      return invalid("", r.message.empty() ? "invalid request" : r.message);
  }
}

ApiError cut_off() {
  return error(503, "server_error", "shutting_down", "the server is shutting down: the generation was cut off");
}

ApiError server_error(std::string message) { return error(500, "server_error", "", std::move(message)); }

}  // namespace dsv3::server
