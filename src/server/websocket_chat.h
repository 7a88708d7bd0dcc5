// The WebSocket chat protocol on /ws: chat-completion requests as messages,
// one at a time per connection; chunks stream back and a "done" message (or
// an error message) ends each; {"type": "cancel"} stops the running one.
#pragma once
#include "server/http_exchange.h"
#include "server/server_context.h"

namespace dsv3::server {

// Upgrades the exchange's connection and serves the protocol on it until it closes.
void serve_websocket_chat(Exchange& x, const ServerContext& c);

}  // namespace dsv3::server
