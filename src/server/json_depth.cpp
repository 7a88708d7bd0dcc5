#include "server/json_depth.h"

#include <fmt/format.h>

namespace dsv3::server {

bool json_depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

std::optional<ApiError> json_too_deep(std::string_view text, int max_depth) {
  if (json_depth_within(text, max_depth)) return std::nullopt;
  return invalid("", fmt::format("the JSON nests deeper than the limit of {} levels (--max-json-depth)", max_depth),
                 "json_too_deep");
}

}  // namespace dsv3::server
