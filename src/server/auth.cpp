#include "server/auth.h"

#include <cctype>

#include "base/read_file.h"

namespace dsv3::server {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // compare over b's length whatever a holds; volatile keeps the loop from being cut short
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

Result<ApiKeys> ApiKeys::make(std::vector<std::string> keys, const std::string& file) {
  ApiKeys k;
  for (auto& key : keys) {
    if (key.empty()) return make_error("--api-key: empty key");
    k.keys_.push_back(std::move(key));
  }
  if (!file.empty()) {
    auto text = read_file(file);
    if (!text) return make_error("--api-key-file {}: {}", file, text.error().message);
    std::size_t start = 0;
    const std::string& t = *text;
    while (start <= t.size()) {
      std::size_t end = t.find('\n', start);
      if (end == std::string::npos) end = t.size();
      std::string line = t.substr(start, end - start);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
      std::size_t lead = line.find_first_not_of(" \t");
      line = lead == std::string::npos ? "" : line.substr(lead);
      if (!line.empty() && line[0] != '#') k.keys_.push_back(std::move(line));
      start = end + 1;
    }
    if (k.keys_.empty()) return make_error("--api-key-file {}: no keys in it", file);
  }
  return k;
}

std::optional<std::size_t> ApiKeys::check(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() < kBearer.size()) return std::nullopt;
  // the scheme is case-insensitive (RFC 7235)
  for (std::size_t i = 0; i < kBearer.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != std::tolower(static_cast<unsigned char>(kBearer[i])))
      return std::nullopt;
  std::string_view presented = authorization.substr(kBearer.size());
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < keys_.size(); ++i)
    if (constant_time_equal(presented, keys_[i]) && !found) found = i;
  return found;
}

}  // namespace dsv3::server
