// The server's endpoints: the OpenAI and Anthropic APIs, the WebSocket chat, health,
// metrics and the chat page, each one row of a route table; and the API's
// answer to requests the transport could not read.
#pragma once
#include <atomic>
#include <memory>
#include <string_view>

#include "server/http_server.h"
#include "server/route_table.h"
#include "server/server_context.h"

namespace dsv3::server {

class Routes : public HttpHandler {
 public:
  explicit Routes(ServerContext ctx);
  Routes(const Routes&) = delete;  // the table's handlers hold `this`
  Routes& operator=(const Routes&) = delete;

  void handle(Request&& req, const std::shared_ptr<HttpSession>& session) override { table_.dispatch(std::move(req), session); }
  Response rejected(http::status status, std::string_view reason, std::string_view target) override;
  void connection(int delta) override { c_.metrics.connection(delta); }
  // From now on /health answers 503 so load balancers move on.
  void begin_shutdown() { draining_.store(true); }

 private:
  void health(Exchange& x);
  void models(Exchange& x);

  ServerContext c_;
  RouteTable table_;
  std::atomic<bool> draining_{false};
};

}  // namespace dsv3::server
