// Concurrent generations per client (--max-streams-per-key): each admitted
// generation holds a lease until its last event, so one key cannot fill every
// sequence and the queue by itself.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dsv3::server {

class StreamLimits {
  struct State {
    int64_t max_per_client = 0;  // 0: unlimited
    std::mutex mu;
    std::unordered_map<std::string, int64_t> running;
  };

 public:
  class Lease {
   public:
    Lease(std::shared_ptr<State> state, std::string client) : state_(std::move(state)), client_(std::move(client)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

   private:
    std::shared_ptr<State> state_;
    std::string client_;
  };

  explicit StreamLimits(int64_t max_per_client);
  int64_t limit() const { return state_->max_per_client; }
  // A lease for one more generation of `client`, or nullopt when it has the most it may.
  std::optional<Lease> acquire(const std::string& client);
  int64_t running(const std::string& client) const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace dsv3::server
