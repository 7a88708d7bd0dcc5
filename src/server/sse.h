// Server-sent events framing (text/event-stream): each event an optional
// `event:` line naming it, its payload as `data:` lines, a blank line after.
// OpenAI streams send unnamed events and end with `data: [DONE]`; the
// Anthropic API names every event.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dsv3::server {

// One event carrying a payload; a payload with newlines becomes several data
// lines. An empty name writes no `event:` line (the client's default, "message").
std::string sse_data(std::string_view payload, std::string_view event = {});
std::string sse_event(const nlohmann::json& j, std::string_view event = {});
inline std::string sse_done() { return "data: [DONE]\n\n"; }

}  // namespace dsv3::server
