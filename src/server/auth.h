// API keys: `Authorization: Bearer KEY`, compared in constant time so the
// answer's timing says nothing about how much of a guess was right.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dsv3::server {

// True when a == b; the time taken depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

class ApiKeys {
 public:
  ApiKeys() = default;  // no keys: every request is let in
  // Keys from flags and from a file of one key per line (blank lines and # comments skipped).
  static Result<ApiKeys> make(std::vector<std::string> keys, const std::string& file);

  bool enabled() const { return !keys_.empty(); }
  // The matching key's index for an Authorization header value, or nullopt.
  // Every key is compared, whatever matches, so timing does not reveal which.
  std::optional<std::size_t> check(std::string_view authorization) const;
  // A key's name for rate limits and logs: its index, never the secret.
  static std::string label(std::size_t index) { return "key" + std::to_string(index); }

 private:
  std::vector<std::string> keys_;
};

}  // namespace dsv3::server
