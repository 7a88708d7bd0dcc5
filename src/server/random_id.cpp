#include "server/random_id.h"

#include <fmt/format.h>

#include <cstdint>
#include <mutex>
#include <random>

namespace dsv3::server {

std::string random_id(std::string_view prefix) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

}  // namespace dsv3::server
