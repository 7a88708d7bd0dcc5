// A compiled PCRE2 pattern in UTF mode with Unicode properties (\p{L}, \s as
// Unicode White_Space), JIT-compiled where the platform allows.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dsv3::text {

class Regex {
 public:
  static Result<Regex> compile(const std::string& pattern);
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // Calls on_match(begin, end) for each non-overlapping match in s (valid UTF-8).
  template <class F>
  void for_each_match(std::string_view s, F&& on_match) const {
    std::size_t pos = 0, b = 0, e = 0;
    while (pos <= s.size() && next(s, pos, b, e)) {
      on_match(b, e);
      pos = e > b ? e : advance_one(s, e);
    }
  }

 private:
  struct Impl;
  explicit Regex(std::unique_ptr<Impl> impl);
  bool next(std::string_view s, std::size_t from, std::size_t& b, std::size_t& e) const;
  static std::size_t advance_one(std::string_view s, std::size_t i);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsv3::text
