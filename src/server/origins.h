// Which browser origins may use the API (--allowed-origins): the CORS header
// their requests get, and the Origin check of WebSocket upgrades. Browsers
// send a WebSocket cross-site without asking, so a page elsewhere could use a
// server on localhost unless its Origin is checked.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace dsv3::server {

class AllowedOrigins {
 public:
  AllowedOrigins() = default;  // none: no CORS headers, same-origin WebSockets only
  // Origins as "scheme://host[:port]"; "*" allows every origin.
  explicit AllowedOrigins(const std::vector<std::string>& origins);

  // The Access-Control-Allow-Origin value for a request's Origin header, or
  // empty when it gets none (no Origin, or one not in the list).
  std::string cors(std::string_view origin) const;
  // Whether a WebSocket upgrade may go on: no Origin (not a browser), the
  // server's own (Origin names the Host the request was sent to), or a listed one.
  bool websocket_allowed(std::string_view origin, std::string_view host) const;

 private:
  bool listed(std::string_view origin) const;
  std::vector<std::string> origins_;  // lower case, no trailing '/'
  bool any_ = false;
};

}  // namespace dsv3::server
