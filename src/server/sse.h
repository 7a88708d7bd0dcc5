// Server-sent events framing (text/event-stream) as OpenAI streams use it:
// each event one `data:` line, a blank line after, `data: [DONE]` at the end.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dsv3::server {

// One event carrying a payload; a payload with newlines becomes several data lines.
std::string sse_data(std::string_view payload);
std::string sse_event(const nlohmann::json& j);
inline std::string sse_done() { return "data: [DONE]\n\n"; }

}  // namespace dsv3::server
