#include "cli/args.h"

#include <charconv>

namespace dsv3::cli {

Result<std::vector<int32_t>> parse_ids(const std::string& text, const std::string& flag) {
  std::vector<int32_t> ids;
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto skip_space = [&] {
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
  };
  skip_space();
  if (i == n) return make_error("{}: no token ids given", flag);
  while (i < n) {
    skip_space();
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + n, v);
    if (ec != std::errc() || ptr == text.data() + i)
      return make_error("{}: \"{}\" is not a list of integers (at character {})", flag, text, i + 1);
    if (v < 0 || v > INT32_MAX) return make_error("{}: token id {} is out of range", flag, v);
    ids.push_back(static_cast<int32_t>(v));
    i = static_cast<std::size_t>(ptr - text.data());
    skip_space();
    if (i < n) {
      if (text[i] != ',') return make_error("{}: expected ',' at character {} of \"{}\"", flag, i + 1, text);
      ++i;
      skip_space();
      if (i == n) return make_error("{}: trailing ',' in \"{}\"", flag, text);
    }
  }
  return ids;
}

}  // namespace dsv3::cli
