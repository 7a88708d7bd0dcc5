// Caps on open connections (--max-connections, --max-connections-per-client):
// each connection holds a ticket from accept until it closes (a WebSocket
// keeps its upgrade's ticket), so one client cannot take every descriptor.
#pragma once
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dsv3::server {

class ConnectionLimits {
  struct State {
    std::size_t max_total = 0, max_per_client = 0;  // 0: unlimited
    std::mutex mu;
    std::size_t open = 0;
    std::unordered_map<std::string, std::size_t> by_client;
  };

 public:
  // A connection's place; gives it back when destroyed.
  class Ticket {
   public:
    Ticket(std::shared_ptr<State> state, std::string client) : state_(std::move(state)), client_(std::move(client)) {}
    Ticket(Ticket&&) = default;
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();

   private:
    std::shared_ptr<State> state_;  // shared: a ticket may outlive the server object
    std::string client_;
  };

  ConnectionLimits(std::size_t max_total, std::size_t max_per_client);
  // A ticket for a new connection from `client` (an address), or nullopt past a cap.
  std::optional<Ticket> admit(const std::string& client);
  std::size_t open() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace dsv3::server
