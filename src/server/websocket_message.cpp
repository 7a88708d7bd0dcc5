#include "server/websocket_message.h"

#include "server/json_depth.h"

namespace dsv3::server {

using nlohmann::json;

WsMessage parse_ws_message(std::string_view text, int max_json_depth) {
  if (auto e = json_too_deep(text, max_json_depth)) return *e;
  json msg = json::parse(text, nullptr, false);
  if (msg.is_discarded()) return invalid("", "the message is not valid JSON", "invalid_json");
  if (msg.is_object() && msg.contains("type") && msg["type"] == "cancel") return WsCancel{};
  if (msg.is_object() && msg.contains("type") && msg["type"] != "chat")
    return invalid("type", "'type' must be 'chat' (a request) or 'cancel'");
  if (msg.is_object()) msg.erase("type");
  return WsChat{std::move(msg)};
}

}  // namespace dsv3::server
