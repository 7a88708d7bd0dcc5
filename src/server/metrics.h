// Prometheus metrics in the text exposition format (version 0.0.4): request
// counts by route and status, token totals, latency and time-to-first-token
// histograms, and the scheduler's gauges read at scrape time.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/scheduler.h"

namespace dsv3::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // name_bucket{le="..."} lines (cumulative), name_sum, name_count.
  void render(std::string& out, std::string_view name, std::string_view labels = {}) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  // One finished HTTP exchange (or WebSocket request). Route is one of a known set.
  void request(std::string_view route, int status, double seconds);
  void tokens(int64_t prompt, int64_t cached, int64_t completion);
  void time_to_first_token(double seconds);
  void connection(int delta);  // open connections (HTTP and WebSocket)
  void rate_limited(std::string_view which);

  std::string render(const SchedulerStats& s) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;  // by route
  Histogram ttft_;
  std::map<std::string, uint64_t> rate_limited_;
  int64_t prompt_tokens_ = 0, cached_tokens_ = 0, completion_tokens_ = 0;
  int64_t connections_ = 0;
};

}  // namespace dsv3::server
