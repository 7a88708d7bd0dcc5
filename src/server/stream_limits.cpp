#include "server/stream_limits.h"

namespace dsv3::server {

StreamLimits::StreamLimits(int64_t max_per_client) : state_(std::make_shared<State>()) {
  state_->max_per_client = max_per_client;
}

std::optional<StreamLimits::Lease> StreamLimits::acquire(const std::string& client) {
  std::lock_guard lock(state_->mu);
  int64_t& n = state_->running[client];
  if (state_->max_per_client > 0 && n >= state_->max_per_client) {
    if (n == 0) state_->running.erase(client);
    return std::nullopt;
  }
  ++n;
  return std::optional<Lease>(std::in_place, state_, client);
}

int64_t StreamLimits::running(const std::string& client) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->running.find(client);
  return it == state_->running.end() ? 0 : it->second;
}

StreamLimits::Lease::~Lease() {
  if (!state_) return;  // moved from
  std::lock_guard lock(state_->mu);
  auto it = state_->running.find(client_);
  if (it != state_->running.end() && --it->second == 0) state_->running.erase(it);
}

}  // namespace dsv3::server
