#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace dsv3::server {

namespace {
// seconds: from one decode step of a tiny model to a long answer of a large one
const std::vector<double> kLatencyBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}
}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, le, cumulative);
  }
  const std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
  out += fmt::format("{}_sum{} {}\n", name, braces, number(sum_));
  out += fmt::format("{}_count{} {}\n", name, braces, count_);
}

Metrics::Metrics() : ttft_(kLatencyBounds) {}

void Metrics::request(std::string_view route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), status}];
  auto it = latency_.find(std::string(route));
  if (it == latency_.end()) it = latency_.emplace(std::string(route), Histogram(kLatencyBounds)).first;
  it->second.observe(seconds);
}

void Metrics::tokens(int64_t prompt, int64_t cached, int64_t completion) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += prompt;
  cached_tokens_ += cached;
  completion_tokens_ += completion;
}

void Metrics::time_to_first_token(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void Metrics::connection(int delta) {
  std::lock_guard lock(mu_);
  connections_ += delta;
}

void Metrics::rate_limited(std::string_view which) {
  std::lock_guard lock(mu_);
  ++rate_limited_[std::string(which)];
}

std::string Metrics::render(const SchedulerStats& s) const {
  std::lock_guard lock(mu_);
  std::string out;
  auto header = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  header("dsv3_http_requests_total", "counter", "HTTP requests and WebSocket generations by route and status code.");
  for (const auto& [key, n] : requests_)
    out += fmt::format("dsv3_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  header("dsv3_request_duration_seconds", "histogram", "Time from a request's arrival to its last byte, by route.");
  for (const auto& [route, h] : latency_) h.render(out, "dsv3_request_duration_seconds", fmt::format("route=\"{}\"", route));
  header("dsv3_time_to_first_token_seconds", "histogram", "Time from a generation request's arrival to its first token.");
  ttft_.render(out, "dsv3_time_to_first_token_seconds");
  // a metric with one unlabelled sample
  auto single = [&](const char* name, const char* type, const char* help, auto value) {
    header(name, type, help);
    out += fmt::format("{} {}\n", name, value);
  };
  single("dsv3_prompt_tokens_total", "counter", "Prompt tokens of finished requests.", prompt_tokens_);
  single("dsv3_cached_prompt_tokens_total", "counter", "Prompt tokens served from the prefix cache.", cached_tokens_);
  single("dsv3_completion_tokens_total", "counter", "Generated tokens of finished requests.", completion_tokens_);
  header("dsv3_rate_limited_total", "counter", "Requests refused by a rate limit, by limit.");
  for (const auto& [which, n] : rate_limited_) out += fmt::format("dsv3_rate_limited_total{{limit=\"{}\"}} {}\n", which, n);
  single("dsv3_open_connections", "gauge", "Open HTTP and WebSocket connections.", connections_);
  single("dsv3_queue_depth", "gauge", "Generations waiting for a sequence slot.", s.queued);
  single("dsv3_active_sequences", "gauge", "Generations decoding now.", s.active);
  single("dsv3_cache_tokens", "gauge", "Positions held in the latent cache over all slots.", s.cache_tokens);
  single("dsv3_cache_capacity_tokens", "gauge", "The most positions the latent cache may hold.", s.cache_capacity_tokens);
  single("dsv3_cache_usage_ratio", "gauge", "cache_tokens / cache_capacity_tokens.",
         s.cache_capacity_tokens > 0 ? static_cast<double>(s.cache_tokens) / static_cast<double>(s.cache_capacity_tokens) : 0.0);
  single("dsv3_engine_steps_total", "counter", "Batched forward steps the scheduler has run.", s.steps);
  single("dsv3_engine_prompt_tokens_total", "counter", "Prompt tokens the scheduler has admitted.", s.prompt_tokens);
  single("dsv3_engine_cached_prompt_tokens_total", "counter", "Admitted prompt tokens found in the prefix cache.",
         s.cached_prompt_tokens);
  single("dsv3_engine_completion_tokens_total", "counter", "Tokens the scheduler has generated.", s.completion_tokens);
  return out;
}

}  // namespace dsv3::server
