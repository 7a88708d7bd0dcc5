#include "server/rate_limit.h"

#include <algorithm>
#include <chrono>

namespace dsv3::server {

void TokenBucket::refill(double now) {
  if (now > last_) level_ = std::min(capacity_, level_ + (now - last_) * rate_);
  last_ = std::max(last_, now);
}

double RateLimiter::steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

RateLimiter::RateLimiter(RateLimits limits, Clock clock) : limits_(limits), clock_(std::move(clock)) {}

RateLimiter::Client& RateLimiter::client(const std::string& name, double now) {
  auto it = clients_.find(name);
  if (it != clients_.end()) return it->second;
  if (clients_.size() >= 100000) {
    // clients whose buckets are full again are in the state a new entry starts in: forget them
    for (auto i = clients_.begin(); i != clients_.end();) {
      i->second.requests.refill(now);
      i->second.tokens.refill(now);
      i = i->second.requests.full() && i->second.tokens.full() ? clients_.erase(i) : std::next(i);
    }
  }
  const double rpm = limits_.requests_per_minute, tpm = limits_.tokens_per_minute;
  // a bucket holds at least one request, so that below 1 per minute (0.5: one
  // every two minutes) requests still get through, slowly
  return clients_.emplace(name, Client{TokenBucket(std::max(1.0, rpm), rpm / 60.0, now), TokenBucket(tpm, tpm / 60.0, now)})
      .first->second;
}

RateLimiter::Decision RateLimiter::admit(const std::string& name, int64_t prompt_tokens) {
  if (!limits_.enabled()) return {};
  const double now = clock_();
  std::lock_guard lock(mu_);
  Client& c = client(name, now);
  c.requests.refill(now);
  c.tokens.refill(now);
  Decision d;
  if (limits_.requests_per_minute > 0 && c.requests.level() < 1.0) {
    d = {false, c.requests.wait_for(1.0), "requests"};
  }
  if (limits_.tokens_per_minute > 0 && c.tokens.level() <= 0.0) {
    // wait until the debt is paid and a little is left over
    const double w = c.tokens.wait_for(std::min(1.0, limits_.tokens_per_minute));
    if (d.allowed || w > d.retry_after) d = {false, w, "tokens"};
  }
  if (!d.allowed) return d;
  if (limits_.requests_per_minute > 0) c.requests.take(1.0);
  if (limits_.tokens_per_minute > 0) c.tokens.take(static_cast<double>(prompt_tokens));
  return d;
}

void RateLimiter::charge(const std::string& name, int64_t tokens) {
  if (limits_.tokens_per_minute <= 0 || tokens <= 0) return;
  const double now = clock_();
  std::lock_guard lock(mu_);
  Client& c = client(name, now);
  c.tokens.refill(now);
  c.tokens.take(static_cast<double>(tokens));
}

}  // namespace dsv3::server
