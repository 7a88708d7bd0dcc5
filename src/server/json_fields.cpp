#include "server/json_fields.h"

#include <fmt/format.h>

namespace dsv3::server {

using nlohmann::json;

const json* optional_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

const char* json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: return "invalid";
    default: return "a number";
  }
}

ApiError field_type_error(const std::string& param, const char* want, const json& got) {
  return invalid(param, fmt::format("'{}' must be {}, got {}", param, want, json_type_name(got)));
}

}  // namespace dsv3::server
