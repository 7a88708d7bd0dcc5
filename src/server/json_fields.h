// Reading fields of a request's JSON with errors that name them: optional
// fields (absent or null), and "'x' must be a string, got a number".
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "server/api_error.h"

namespace dsv3::server {

// The field, or null when it is absent or null (clients send nulls for "not given").
const nlohmann::json* optional_field(const nlohmann::json& object, const char* name);
// "a string", "an array", ... for error messages.
const char* json_type_name(const nlohmann::json& v);
// 400: "'param' must be WANT, got TYPE".
ApiError field_type_error(const std::string& param, const char* want, const nlohmann::json& got);

}  // namespace dsv3::server
