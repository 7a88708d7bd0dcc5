// Failed-key throttling (--auth-failures-per-minute): an address that has
// presented a wrong or missing key that many times within the last minute
// gets 429, whatever key it sends, until its oldest failure is a minute old.
// Guessing keys gets that many tries a minute.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace dsv3::server {

class AuthThrottle {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  // max_failures 0: never throttled.
  explicit AuthThrottle(uint32_t max_failures, Clock clock = {});

  // Seconds until `address` may present a key again; 0: now.
  double blocked_for(const std::string& address);
  // `address` presented a bad key (or none).
  void failed(const std::string& address);

 private:
  void forget_old(std::deque<double>& times, double now) const;

  uint32_t max_failures_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<double>> failures_;  // times within the last minute
  std::size_t prune_above_ = 4096;                                 // map size that triggers a sweep
};

}  // namespace dsv3::server
