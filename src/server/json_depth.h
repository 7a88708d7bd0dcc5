// JSON nesting depth, checked on the raw text before nlohmann parses it:
// its values, dump() and the chat template all recurse once per level, so a
// body of 100,000 '[' would exhaust the stack (and each level costs a copy).
#pragma once
#include <optional>
#include <string_view>

#include "server/api_error.h"

namespace dsv3::server {

inline constexpr int kDefaultMaxJsonDepth = 64;

// Whether arrays and objects in text nest at most max_depth deep (brackets in
// strings do not count). Linear, no recursion; malformed text is left to the parser.
bool json_depth_within(std::string_view text, int max_depth);

// A 400 naming the limit when text nests deeper than max_depth.
std::optional<ApiError> json_too_deep(std::string_view text, int max_depth);

}  // namespace dsv3::server
