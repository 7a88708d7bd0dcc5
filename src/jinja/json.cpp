#include "jinja/json.h"

#include <algorithm>
#include <cmath>

#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 && ensure_ascii) {
      size_t len = 1;
      uint32_t cp = utf8_decode(s, i, &len);
      i += len;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
      } else {
        out += fmt::format("\\u{:04x}", cp);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (u < 0x20) {
          out += fmt::format("\\u{:04x}", u);
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

Status json_value(std::string& out, const Value& v, const JsonStyle& style, int level) {
  using K = Value::Kind;
  auto newline = [&](int lvl) {
    if (!style.pretty) return;
    out += '\n';
    for (int i = 0; i < lvl; ++i) out += style.indent;
  };
  switch (v.kind()) {
    case K::kNone:
      out += "null";
      return {};
    case K::kBool:
      out += v.as_bool() ? "true" : "false";
      return {};
    case K::kInt:
      out += std::to_string(v.as_int());
      return {};
    case K::kFloat: {
      const double d = v.as_double();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d < 0 ? "-Infinity" : "Infinity";
      } else {
        out += format_float(d);
      }
      return {};
    }
    case K::kString:
      json_string(out, v.as_string(), style.ensure_ascii);
      return {};
    case K::kList: {
      const auto& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        return {};
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += style.item_separator;
        newline(level + 1);
        DSV3_RETURN_IF_ERROR(json_value(out, items[i], style, level + 1));
      }
      newline(level);
      out += ']';
      return {};
    }
    case K::kDict: {
      const auto& entries = v.as_dict().entries();
      if (entries.empty()) {
        out += "{}";
        return {};
      }
      std::vector<const Dict::Entry*> order;
      order.reserve(entries.size());
      for (const auto& e : entries) order.push_back(&e);
      if (style.sort_keys) {
        std::stable_sort(order.begin(), order.end(),
                         [](const Dict::Entry* a, const Dict::Entry* b) { return a->first < b->first; });
      }
      out += '{';
      for (size_t i = 0; i < order.size(); ++i) {
        if (i) out += style.item_separator;
        newline(level + 1);
        json_string(out, order[i]->first, style.ensure_ascii);
        out += style.key_separator;
        DSV3_RETURN_IF_ERROR(json_value(out, order[i]->second, style, level + 1));
      }
      newline(level);
      out += '}';
      return {};
    }
    default:
      return make_error("Object of type {} is not JSON serializable", type_name(v));
  }
}

template <class Json>
Result<Value> convert(const Json& j, int depth_left) {
  if (depth_left < 0) return make_error("template context is nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::integer(static_cast<int64_t>(u));
      return Value::number(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& item : j) {
        DSV3_ASSIGN_OR_RETURN(Value v, convert(item, depth_left - 1));
        items.push_back(std::move(v));
      }
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) {
        DSV3_ASSIGN_OR_RETURN(Value v, convert(it.value(), depth_left - 1));
        d.set(it.key(), std::move(v));
      }
      return Value::dict(std::move(d));
    }
    case nlohmann::json::value_t::discarded:
      return Value::undefined();
    default:
      return make_error("template context holds a value JSON cannot express (binary)");
  }
}

}  // namespace

Result<std::string> to_json(const Value& v, const JsonStyle& style) {
  std::string out;
  DSV3_RETURN_IF_ERROR(json_value(out, v, style, 0));
  return out;
}

Result<Value> from_json(const nlohmann::json& j, int max_depth) { return convert(j, max_depth); }
Result<Value> from_json(const nlohmann::ordered_json& j, int max_depth) { return convert(j, max_depth); }

}  // namespace dsv3::jinja
