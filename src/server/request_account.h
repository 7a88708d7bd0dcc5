// What one request counts for: its line in the metrics (route label, status,
// latency) and, on rate-limited routes, its client's share of the limits.
// HTTP replies, SSE streams and WebSocket messages all count through here,
// and each finished request writes its log line here (never its text).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/scheduler.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/rate_limit.h"

namespace dsv3::server {

class RequestAccount {
 public:
  using Clock = std::chrono::steady_clock;
  // limiter null: the route is not rate limited.
  RequestAccount(Metrics& metrics, RateLimiter* limiter, std::string route, std::string method = {},
                 std::string path = {});

  // The client (a key's label or an address) whose limits the request counts against.
  void set_client(std::string client) { client_ = std::move(client); }
  const std::string& client() const { return client_; }
  const std::string& route() const { return route_; }
  // The same route and client timed from now: the next message on a WebSocket.
  RequestAccount restarted() const;

  // The request was answered (or refused) with `status`.
  void answered(int status) const;
  // Lets in a generation of `prompt_tokens`, or says why not (a 429, counted under its limit).
  std::optional<ApiError> admit(int64_t prompt_tokens) const;
  // A generation's last event: its tokens, its time to first token, its
  // client's charge, then the request itself. Called before its last message
  // goes out, so a client that has its answer finds it counted.
  void finished(const JobEvent& last, bool client_gone) const;

 private:
  double elapsed() const;
  // The info line of a finished request; usage: a generation's tokens and times.
  void log_answer(int status, const JobUsage* usage) const;

  Metrics* metrics_;
  RateLimiter* limiter_;
  std::string route_, method_, path_, client_;
  Clock::time_point t0_ = Clock::now();
};

}  // namespace dsv3::server
