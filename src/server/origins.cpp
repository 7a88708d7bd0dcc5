#include "server/origins.h"

#include <algorithm>
#include <cctype>

namespace dsv3::server {

namespace {

// Origins and hosts compare case-insensitively; a trailing '/' is not part of an origin.
std::string normal(std::string_view s) {
  while (!s.empty() && (s.back() == '/' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

AllowedOrigins::AllowedOrigins(const std::vector<std::string>& origins) {
  for (const std::string& o : origins) {
    std::string n = normal(o);
    if (n == "*") any_ = true;
    if (!n.empty()) origins_.push_back(std::move(n));
  }
}

bool AllowedOrigins::listed(std::string_view origin) const {
  if (any_) return true;
  const std::string n = normal(origin);
  return std::find(origins_.begin(), origins_.end(), n) != origins_.end();
}

std::string AllowedOrigins::cors(std::string_view origin) const {
  if (origin.empty() || !listed(origin)) return {};
  return any_ ? "*" : std::string(origin);
}

bool AllowedOrigins::websocket_allowed(std::string_view origin, std::string_view host) const {
  if (origin.empty()) return true;
  if (listed(origin)) return true;
  const std::string o = normal(origin);
  for (std::string_view scheme : {"http://", "https://"})
    if (o.starts_with(scheme) && !host.empty() && o.substr(scheme.size()) == normal(host)) return true;
  return false;
}

}  // namespace dsv3::server
