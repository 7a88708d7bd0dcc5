// JSON as it goes on the wire. Token texts (logprobs) may be partial UTF-8,
// so invalid bytes are replaced rather than thrown on.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace dsv3::server {

// One line, no indentation.
inline std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace dsv3::server
