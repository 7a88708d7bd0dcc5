// Template values to and from JSON: the render context arrives as
// nlohmann::json, and the tojson filter writes what json.dumps would.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "jinja/value.h"

namespace dsv3::jinja {

// json.dumps options (Hugging Face's tojson passes these through).
struct JsonStyle {
  bool pretty = false;  // indent given: newlines and `indent` per level
  std::string indent;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};
Result<std::string> to_json(const Value& v, const JsonStyle& style);

// Converts template input; objects nested deeper than max_depth are an Error.
Result<Value> from_json(const nlohmann::json& j, int max_depth);
Result<Value> from_json(const nlohmann::ordered_json& j, int max_depth);

}  // namespace dsv3::jinja
