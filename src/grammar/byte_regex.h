// JSON Schema "pattern" (and the "format"s written as patterns) compiled to a
// DFA over printable ASCII bytes: what a constrained string may hold. The
// syntax is the common subset of ECMA-262: literals, escapes (\d \w \s \D \W
// \S and escaped punctuation), classes with ranges and negation, ".",
// groups (also "(?:"), "|", and the quantifiers * + ? {n} {n,} {n,m}. A
// pattern without "^" / "$" matches anywhere, as the schema says.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dsv3::grammar {

class ByteRegex {
 public:
  static constexpr int32_t kDead = -1;
  // An error names what in the pattern is unsupported or malformed.
  static Result<ByteRegex> compile(std::string_view pattern);

  int32_t start() const { return 0; }
  int32_t next(int32_t state, uint8_t byte) const {
    return byte < 0x20 || byte > 0x7e ? kDead : table_[static_cast<std::size_t>(state) * 95 + (byte - 0x20)];
  }
  bool accepting(int32_t state) const { return accept_[static_cast<std::size_t>(state)] != 0; }
  // The fewest bytes from state to an accepting state (large when none).
  int32_t distance(int32_t state) const { return distance_[static_cast<std::size_t>(state)]; }
  int32_t states() const { return static_cast<int32_t>(accept_.size()); }
  int32_t max_distance() const { return max_distance_; }  // the largest finite distance()

 private:
  std::vector<int32_t> table_;  // [state][byte - 0x20]
  std::vector<uint8_t> accept_;
  std::vector<int32_t> distance_;
  int32_t max_distance_ = 0;
};

}  // namespace dsv3::grammar
