#include "server/request_account.h"

#include <fmt/format.h>

#include "base/log.h"

namespace dsv3::server {

RequestAccount::RequestAccount(Metrics& metrics, RateLimiter* limiter, std::string route, std::string method,
                               std::string path)
    : metrics_(&metrics),
      limiter_(limiter),
      route_(std::move(route)),
      method_(std::move(method)),
      path_(std::move(path)) {}

RequestAccount RequestAccount::restarted() const {
  RequestAccount a = *this;
  a.t0_ = Clock::now();
  return a;
}

double RequestAccount::elapsed() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

void RequestAccount::answered(int status) const {
  metrics_->request(route_, status, elapsed());
  log_answer(status, nullptr);
}

void RequestAccount::log_answer(int status, const JobUsage* u) const {
  if (!log::enabled(log::Level::kInfo)) return;
  const double ms = elapsed() * 1000;
  const std::string& path = path_;  // without its query: a WebSocket's ?api_key= never reaches the log
  if (!u) return log::info(fmt::format("{} {} {} total_ms={:.1f}", method_, path, status, ms));
  log::info(fmt::format("{} {} {} prompt_tokens={} completion_tokens={} ttft_ms={:.1f} total_ms={:.1f}", method_, path,
                        status, u->prompt_tokens, u->completion_tokens, u->time_to_first_token * 1000, ms));
}

std::optional<ApiError> RequestAccount::admit(int64_t prompt_tokens) const {
  if (!limiter_) return std::nullopt;
  const RateLimiter::Decision d = limiter_->admit(client_, prompt_tokens);
  if (d.allowed) return std::nullopt;
  metrics_->rate_limited(d.limit);
  return rate_limited(d);
}

void RequestAccount::finished(const JobEvent& last, bool client_gone) const {
  const JobUsage& u = last.usage;
  metrics_->tokens(u.prompt_tokens, u.cached_prompt_tokens, u.completion_tokens);
  if (u.completion_tokens > 0) metrics_->time_to_first_token(u.time_to_first_token);
  if (limiter_) limiter_->charge(client_, u.completion_tokens);
  // 499 (nginx's "client closed request") when the client left before the end
  const int status = !last.error.empty() ? 500 : client_gone ? 499 : 200;
  metrics_->request(route_, status, elapsed());
  log_answer(status, &u);
}

}  // namespace dsv3::server
