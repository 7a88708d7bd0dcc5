// Per-client rate limits: requests per minute and tokens per minute, each a
// token bucket that holds a minute's allowance and refills continuously.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace dsv3::server {

struct RateLimits {
  double requests_per_minute = 0;  // 0: unlimited
  double tokens_per_minute = 0;    // prompt + completion tokens; 0: unlimited
  bool enabled() const { return requests_per_minute > 0 || tokens_per_minute > 0; }
};

class TokenBucket {
 public:
  TokenBucket(double capacity, double per_second, double now) : capacity_(capacity), rate_(per_second), level_(capacity), last_(now) {}
  void refill(double now);
  double level() const { return level_; }
  void take(double n) { level_ -= n; }  // may go below zero: a debt later requests wait out
  // Seconds until the level reaches `need`.
  double wait_for(double need) const { return level_ >= need ? 0.0 : (need - level_) / rate_; }
  bool full() const { return level_ >= capacity_; }

 private:
  double capacity_, rate_, level_, last_;
};

class RateLimiter {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  static double steady_now();

  explicit RateLimiter(RateLimits limits, Clock clock = steady_now);

  struct Decision {
    bool allowed = true;
    double retry_after = 0;  // seconds, when refused
    const char* limit = "";  // "requests" or "tokens"
  };
  // Lets one request of `prompt_tokens` in for `client`, or says how long to wait.
  // An admitted request's prompt tokens are taken now; it may run the bucket into
  // debt (one big prompt is let through, later ones wait).
  Decision admit(const std::string& client, int64_t prompt_tokens);
  // Takes the tokens a finished request generated.
  void charge(const std::string& client, int64_t tokens);
  const RateLimits& limits() const { return limits_; }

 private:
  struct Client {
    TokenBucket requests, tokens;
  };
  Client& client(const std::string& name, double now);

  RateLimits limits_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Client> clients_;
};

}  // namespace dsv3::server
