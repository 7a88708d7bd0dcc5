#include "server/route_table.h"

#include <fmt/format.h>

#include <utility>

#include "base/log.h"

namespace dsv3::server {

namespace {

constexpr std::string_view kParam = "{id}";

std::string_view path_of(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

// A query parameter's raw value (no percent-decoding: keys are plain tokens).
std::string query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    const auto eq = kv.find('=');
    if (kv.substr(0, eq) == name && eq != std::string_view::npos) return std::string(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

// Whether `path` is the route's; sets `param` to what "{id}" matched.
bool path_matches(const Route& r, std::string_view path, std::string& param) {
  const std::string_view pattern = r.path;
  if (!pattern.ends_with(kParam)) return path == pattern;
  const std::string_view prefix = pattern.substr(0, pattern.size() - kParam.size());
  if (!path.starts_with(prefix)) return false;
  param = std::string(path.substr(prefix.size()));
  return true;
}

// CORS preflight for browser clients on other origins: the methods and
// headers only for an allowed one (the session adds its Allow-Origin).
Response preflight(bool keep_alive, bool allowed) {
  Response res = make_response(http::status::no_content, "", "text/plain", keep_alive);
  if (!allowed) return res;
  res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
  res.set(http::field::access_control_allow_headers,
          "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta, "
          "anthropic-dangerous-direct-browser-access");
  res.set(http::field::access_control_max_age, "86400");
  return res;
}

}  // namespace

RouteTable::RouteTable(Metrics& metrics, RateLimiter& limiter, const ApiKeys& keys, AllowedOrigins origins,
                       AuthThrottle* throttle)
    : metrics_(metrics), limiter_(limiter), keys_(keys), origins_(std::move(origins)), throttle_(throttle) {}

void RouteTable::add(Route route) { routes_.push_back(std::move(route)); }

RouteTable::Match RouteTable::match(http::verb method, std::string_view path) const {
  Match m;
  for (const Route& r : routes_) {
    std::string param;
    if (!path_matches(r, path, param)) continue;
    if (m.allowed.empty()) {
      m.label = r.path;
      m.errors = r.errors;
    }
    m.allowed += fmt::format("{}{}", m.allowed.empty() ? "" : ", ", std::string_view(http::to_string(r.method)));
    if (r.method == method && !m.route) {
      m.route = &r;
      m.param = std::move(param);
    }
  }
  return m;
}

ErrorShape RouteTable::errors_for(std::string_view target) const {
  return match(http::verb::post, path_of(target)).errors;
}

void RouteTable::dispatch(Request&& req, const std::shared_ptr<HttpSession>& session) const {
  const std::string path(path_of(req.target()));
  Match m = match(req.method(), path);
  const bool limited = m.route && m.route->rate_limited;
  const std::string method(req.method_string());
  if (log::enabled(log::Level::kDebug)) {
    // the body only at debug: it holds prompts, which info lines never show
    constexpr std::size_t kShown = 200;
    const std::string& body = req.body();
    log::debug(fmt::format("{} {} body ({} bytes): {}{}", method, path, body.size(), body.substr(0, kShown),
                           body.size() > kShown ? "..." : ""));
  }
  Exchange x{session, std::move(req), RequestAccount(metrics_, limited ? &limiter_ : nullptr, m.label, method, path),
             std::move(m.param), m.errors};

  if (x.req.method() == http::verb::options)
    return x.reply(preflight(x.req.keep_alive(), !x.session->cors_origin().empty()));
  if (m.allowed.empty()) return x.reply_error(invalid(404, "", fmt::format("no route for {} {}", method, path), "not_found"));
  if (!m.route) {
    Response res = error_response(method_not_allowed(path, m.allowed, method), x.req.keep_alive(), x.errors);
    res.set(http::field::allow, m.allowed);
    return x.reply(std::move(res));
  }
  if (m.route->websocket && !origins_.websocket_allowed(x.req[http::field::origin], x.req[http::field::host]))
    return x.reply_error(invalid(403, "", "the WebSocket's Origin is not this server's and not in --allowed-origins",
                                 "origin_not_allowed"));
  if (m.route->needs_key && !authorize(x, m.route->websocket)) return;
  if (m.route->websocket && !beast::websocket::is_upgrade(x.req))
    return x.reply_error(invalid(426, "", fmt::format("{} takes a WebSocket upgrade", m.route->path), "upgrade_required"));
  m.route->handler(x);
}

bool RouteTable::authorize(Exchange& x, bool websocket) const {
  if (!keys_.enabled()) {
    x.account.set_client(x.session->remote_address());
    return true;
  }
  const std::string& address = x.session->remote_address();
  // checked before the key, so that a guesser learns nothing more once blocked
  if (const double wait = throttle_ ? throttle_->blocked_for(address) : 0; wait > 0) {
    x.reply_error(auth_throttled(wait));
    return false;
  }
  std::string header(x.req[http::field::authorization]);
  // Anthropic's clients send the bare key in x-api-key
  if (const auto k = x.req["x-api-key"]; header.empty() && !k.empty()) header = "Bearer " + std::string(k);
  if (header.empty() && websocket) {
    // browsers cannot set headers on a WebSocket: there alone the key may come
    // as ?api_key= (elsewhere it would end up in logs and histories)
    const std::string q = query_param(x.req.target(), "api_key");
    if (!q.empty()) header = "Bearer " + q;
  }
  if (auto i = keys_.check(header)) {
    x.account.set_client(ApiKeys::label(*i));
    return true;
  }
  if (throttle_) throttle_->failed(address);
  x.reply_error(unauthorized(!header.empty()));
  return false;
}

}  // namespace dsv3::server
