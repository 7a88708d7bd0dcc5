// UTF-8 validation and repair. Invalid input is replaced with U+FFFD per
// maximal invalid subpart (the rule of WHATWG and Rust's from_utf8_lossy), so
// that streamed and whole decodes agree byte for byte.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace dsv3::text {

// Length of the valid sequence starting at s[i], or 0 if it is invalid or
// incomplete; `complete_prefix` tells whether it could still become valid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i, bool* complete_prefix = nullptr);

bool is_valid_utf8(std::string_view s);
std::string utf8_lossy(std::string_view bytes);

// Incremental form of utf8_lossy: push bytes as they come, get back only
// complete characters; a partial character waits for its remaining bytes.
class Utf8Stream {
 public:
  // Appends to `out` everything that can be decided now.
  void push(std::string_view bytes, std::string& out);
  // End of stream: a dangling partial character becomes U+FFFD.
  void finish(std::string& out);
  bool pending() const { return !tail_.empty(); }

 private:
  std::string tail_;
};

}  // namespace dsv3::text
