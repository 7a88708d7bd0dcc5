#include "server/connection_limits.h"

namespace dsv3::server {

ConnectionLimits::ConnectionLimits(std::size_t max_total, std::size_t max_per_client) : state_(std::make_shared<State>()) {
  state_->max_total = max_total;
  state_->max_per_client = max_per_client;
}

std::optional<ConnectionLimits::Ticket> ConnectionLimits::admit(const std::string& client) {
  std::lock_guard lock(state_->mu);
  if (state_->max_total && state_->open >= state_->max_total) return std::nullopt;
  std::size_t& mine = state_->by_client[client];
  if (state_->max_per_client && mine >= state_->max_per_client) {
    if (mine == 0) state_->by_client.erase(client);
    return std::nullopt;
  }
  ++mine;
  ++state_->open;
  return std::optional<Ticket>(std::in_place, state_, client);
}

std::size_t ConnectionLimits::open() const {
  std::lock_guard lock(state_->mu);
  return state_->open;
}

ConnectionLimits::Ticket::~Ticket() {
  if (!state_) return;  // moved from
  std::lock_guard lock(state_->mu);
  --state_->open;
  auto it = state_->by_client.find(client_);
  if (it != state_->by_client.end() && --it->second == 0) state_->by_client.erase(it);
}

}  // namespace dsv3::server
