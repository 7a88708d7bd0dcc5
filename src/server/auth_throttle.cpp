#include "server/auth_throttle.h"

#include <algorithm>
#include <chrono>

namespace dsv3::server {

namespace {
constexpr double kWindow = 60.0;
constexpr std::size_t kPruneAbove = 4096;  // addresses kept before the stale ones are dropped

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

AuthThrottle::AuthThrottle(uint32_t max_failures, Clock clock)
    : max_failures_(max_failures), clock_(clock ? std::move(clock) : Clock(steady_seconds)) {}

void AuthThrottle::forget_old(std::deque<double>& times, double now) const {
  while (!times.empty() && now - times.front() >= kWindow) times.pop_front();
}

double AuthThrottle::blocked_for(const std::string& address) {
  if (max_failures_ == 0) return 0;
  std::lock_guard lock(mu_);
  auto it = failures_.find(address);
  if (it == failures_.end()) return 0;
  const double now = clock_();
  forget_old(it->second, now);
  if (it->second.size() < max_failures_) return 0;
  return kWindow - (now - it->second.front());
}

void AuthThrottle::failed(const std::string& address) {
  if (max_failures_ == 0) return;
  std::lock_guard lock(mu_);
  const double now = clock_();
  if (failures_.size() > prune_above_) {
    // bounded memory under many addresses: drop those with no recent failure;
    // the next sweep waits for the map to double, so sweeps cost O(1) a failure
    for (auto it = failures_.begin(); it != failures_.end();) {
      forget_old(it->second, now);
      it = it->second.empty() ? failures_.erase(it) : std::next(it);
    }
    prune_above_ = std::max(kPruneAbove, 2 * failures_.size());
  }
  auto& times = failures_[address];
  forget_old(times, now);
  times.push_back(now);
  if (times.size() > max_failures_) times.pop_front();  // only the last max_failures matter
}

}  // namespace dsv3::server
