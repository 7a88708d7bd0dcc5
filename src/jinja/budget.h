// The resource budget a render is held to: the Limits of jinja.h, counted as
// the template runs.
#pragma once
#include <cstddef>
#include <cstdint>

#include "base/status.h"
#include "jinja/jinja.h"

namespace dsv3::jinja {

// Bounds one render: time (work units, loop iterations) and memory (string
// and list sizes), so hostile templates fail fast instead of hanging.
class Budget {
 public:
  explicit Budget(const Limits& limits) : limits_(limits) {}
  const Limits& limits() const { return limits_; }
  Status work(uint64_t units);
  // Like work(), but only says whether the budget still holds (no Error built).
  bool spend(uint64_t units) {
    work_ += units;
    return work_ <= limits_.max_work;
  }
  Status iteration();
  Status string_size(size_t bytes) const;
  Status list_size(size_t items) const;

 private:
  Limits limits_;
  uint64_t work_ = 0;
  uint64_t iterations_ = 0;
};

}  // namespace dsv3::jinja
