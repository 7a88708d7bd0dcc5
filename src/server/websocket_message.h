// One message of the WebSocket chat protocol (websocket_chat.h) read from its
// text: a cancel, a chat request's body, or why it is refused. Knows nothing
// of connections, so the websocket_frame fuzz target runs it alone.
#pragma once
#include <nlohmann/json.hpp>
#include <string_view>
#include <variant>

#include "server/api_error.h"

namespace dsv3::server {

struct WsCancel {};
// The request body, "type" removed: for parse_request_json(Endpoint::kChat, ...).
struct WsChat {
  nlohmann::json body;
};
using WsMessage = std::variant<WsCancel, WsChat, ApiError>;

// max_json_depth: deeper messages are refused before they are parsed (json_depth.h).
WsMessage parse_ws_message(std::string_view text, int max_json_depth);

}  // namespace dsv3::server
