#include "grammar/json_schema.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <string_view>

namespace dsv3::grammar {

using nlohmann::json;

namespace {

// Keywords that say nothing about which values are valid.
const std::set<std::string_view> kAnnotations = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly",
    "$defs", "definitions", "strict", "name", "discriminator", "nullable", "$anchor"};
// Keywords this compiler turns into grammar.
const std::set<std::string_view> kSupported = {
    "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
    "anyOf", "oneOf", "allOf", "$ref", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum"};

std::optional<std::string> format_pattern(std::string_view f) {
  if (f == "date") return R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$)";
  if (f == "time") return R"(^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$)";
  if (f == "date-time")
    return R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$)";
  if (f == "uuid") return R"(^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$)";
  // dots between atoms only; labels as hostnames have them: no '-' at either end
  if (f == "email")
    return R"(^[A-Za-z0-9_%+-]{1,32}(\.[A-Za-z0-9_%+-]{1,15}){0,2}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,3}\.[A-Za-z]{2,24}$)";
  if (f == "ipv4") return R"(^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$)";
  if (f == "hostname") return R"(^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,8}$)";
  if (f == "duration") return R"(^P(\d{1,9}Y)?(\d{1,9}M)?(\d{1,9}W)?(\d{1,9}D)?(T(\d{1,9}H)?(\d{1,9}M)?(\d{1,9}S)?)?$)";
  return std::nullopt;
}

class Compiler {
 public:
  Compiler(Grammar& g, const json& root) : g_(g), root_(root) {}

  Result<uint32_t> value(const json& s, const std::string& path, int depth) {
    if (depth > 64) return make_error("{}: the schema nests deeper than 64 levels", at(path));
    if (s.is_boolean()) {
      if (s.get<bool>()) return g_.any_value();
      return make_error("{}: the schema 'false' matches nothing", at(path));
    }
    if (!s.is_object()) return make_error("{}: a schema must be an object or a boolean", at(path));
    for (const auto& [k, v] : s.items()) {
      if (kAnnotations.count(k) || kSupported.count(k)) continue;
      return make_error("{}: the keyword '{}' is not supported", at(path), k);
    }
    if (auto it = s.find("$ref"); it != s.end()) {
      if (s.size() > 1) {
        for (const auto& [k, v] : s.items())
          if (k != "$ref" && kSupported.count(k)) return make_error("{}: '{}' beside '$ref' is not supported", at(path), k);
      }
      return ref(*it, path, depth);
    }
    if (auto it = s.find("const"); it != s.end()) return g_.literal(it->dump());
    if (auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array() || it->empty()) return make_error("{}/enum: must be a non-empty array", at(path));
      Node alt;
      alt.kind = NodeKind::kAlternatives;
      for (const json& v : *it) alt.children.push_back(g_.literal(v.dump()));
      return g_.add(std::move(alt));
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (auto it = s.find(key); it != s.end()) {
        if (!it->is_array() || it->empty()) return make_error("{}/{}: must be a non-empty array", at(path), key);
        Node alt;
        alt.kind = NodeKind::kAlternatives;
        for (std::size_t i = 0; i < it->size(); ++i) {
          DSV3_ASSIGN_OR_RETURN(uint32_t c, value((*it)[i], fmt::format("{}/{}/{}", path, key, i), depth + 1));
          alt.children.push_back(c);
        }
        return g_.add(std::move(alt));
      }
    }
    if (auto it = s.find("allOf"); it != s.end()) {
      if (!it->is_array() || it->size() != 1) return make_error("{}/allOf: only a single schema is supported", at(path));
      return value((*it)[0], path + "/allOf/0", depth + 1);
    }
    std::vector<std::string> types;
    if (auto it = s.find("type"); it != s.end()) {
      if (it->is_string()) {
        types.push_back(it->get<std::string>());
      } else if (it->is_array() && !it->empty()) {
        for (const json& t : *it) {
          if (!t.is_string()) return make_error("{}/type: must be a string or an array of strings", at(path));
          types.push_back(t.get<std::string>());
        }
      } else {
        return make_error("{}/type: must be a string or an array of strings", at(path));
      }
    } else if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
      types.push_back("array");
    } else if (s.contains("minLength") || s.contains("maxLength") || s.contains("pattern") || s.contains("format")) {
      types.push_back("string");
    } else if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") || s.contains("exclusiveMaximum")) {
      types.push_back("number");
    } else {
      return g_.any_value();
    }
    if (s.value("nullable", false)) types.push_back("null");
    if (types.size() == 1) return typed(s, types[0], path, depth);
    Node alt;
    alt.kind = NodeKind::kAlternatives;
    for (const auto& t : types) {
      DSV3_ASSIGN_OR_RETURN(uint32_t c, typed(s, t, path, depth));
      alt.children.push_back(c);
    }
    return g_.add(std::move(alt));
  }

 private:
  std::string at(const std::string& path) const { return path.empty() ? "schema" : "schema" + path; }

  Result<uint32_t> ref(const json& r, const std::string& path, int depth) {
    if (!r.is_string()) return make_error("{}/$ref: must be a string", at(path));
    const std::string name = r.get<std::string>();
    if (auto it = refs_.find(name); it != refs_.end()) return it->second;
    if (name.empty() || name[0] != '#') return make_error("{}/$ref: only local references ('#/$defs/...') are supported, got '{}'", at(path), name);
    json::json_pointer ptr;
    try {
      ptr = json::json_pointer(name.substr(1));
    } catch (const json::exception&) {
      return make_error("{}/$ref: '{}' is not a JSON pointer", at(path), name);
    }
    if (!root_.contains(ptr)) return make_error("{}/$ref: '{}' points at nothing", at(path), name);
    // a placeholder first, so a reference back to it (recursion) finds it
    Node alias;
    alias.kind = NodeKind::kAlternatives;
    const uint32_t id = g_.add(alias);
    refs_[name] = id;
    DSV3_ASSIGN_OR_RETURN(uint32_t target, value(root_.at(ptr), name.substr(1), depth + 1));
    g_.nodes[id].children = {target};
    return id;
  }

  Result<int64_t> count(const json& s, const char* key, const std::string& path, int64_t fallback) {
    auto it = s.find(key);
    if (it == s.end()) return fallback;
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
      return make_error("{}/{}: must be a non-negative integer", at(path), key);
    return it->get<int64_t>();
  }
  Result<std::optional<double>> bound(const json& s, const char* key, const std::string& path) {
    auto it = s.find(key);
    if (it == s.end()) return std::optional<double>();
    if (!it->is_number()) return make_error("{}/{}: must be a number", at(path), key);
    return std::optional<double>(it->get<double>());
  }

  Result<uint32_t> typed(const json& s, const std::string& type, const std::string& path, int depth) {
    if (type == "null") return g_.literal("null");
    if (type == "boolean") {
      Node alt;
      alt.kind = NodeKind::kAlternatives;
      alt.children = {g_.literal("true"), g_.literal("false")};
      return g_.add(std::move(alt));
    }
    if (type == "string") {
      Node n;
      n.kind = NodeKind::kString;
      DSV3_ASSIGN_OR_RETURN(n.min_length, count(s, "minLength", path, 0));
      DSV3_ASSIGN_OR_RETURN(n.max_length, count(s, "maxLength", path, kUnbounded));
      if (n.max_length < n.min_length) return make_error("{}: maxLength is below minLength", at(path));
      std::optional<std::string> pattern;
      if (auto it = s.find("pattern"); it != s.end()) {
        if (!it->is_string()) return make_error("{}/pattern: must be a string", at(path));
        pattern = it->get<std::string>();
      }
      if (auto it = s.find("format"); it != s.end()) {
        if (!it->is_string()) return make_error("{}/format: must be a string", at(path));
        auto p = format_pattern(it->get<std::string>());
        if (!p) return make_error("{}/format: the format '{}' is not supported", at(path), it->get<std::string>());
        if (pattern) return make_error("{}: 'pattern' and 'format' together are not supported", at(path));
        pattern = *p;
      }
      if (pattern) {
        auto r = ByteRegex::compile(*pattern);
        if (!r) return make_error("{}/pattern: {}", at(path), r.error().message);
        g_.regexes.push_back(std::move(r).value());
        n.regex = static_cast<int32_t>(g_.regexes.size() - 1);
      }
      return g_.add(std::move(n));
    }
    if (type == "number" || type == "integer") {
      Node n;
      n.kind = type == "number" ? NodeKind::kNumber : NodeKind::kInteger;
      DSV3_ASSIGN_OR_RETURN(n.minimum, bound(s, "minimum", path));
      DSV3_ASSIGN_OR_RETURN(n.maximum, bound(s, "maximum", path));
      DSV3_ASSIGN_OR_RETURN(auto xmin, bound(s, "exclusiveMinimum", path));
      DSV3_ASSIGN_OR_RETURN(auto xmax, bound(s, "exclusiveMaximum", path));
      if (xmin && (!n.minimum || *xmin >= *n.minimum)) n.minimum = xmin, n.exclusive_minimum = true;
      if (xmax && (!n.maximum || *xmax <= *n.maximum)) n.maximum = xmax, n.exclusive_maximum = true;
      for (auto* b : {&n.minimum, &n.maximum})
        if (*b && std::abs(**b) > 1e15) return make_error("{}: bounds beyond 1e15 are not supported", at(path));
      return g_.add(std::move(n));
    }
    if (type == "array") {
      Node n;
      n.kind = NodeKind::kArray;
      DSV3_ASSIGN_OR_RETURN(n.min_items, count(s, "minItems", path, 0));
      DSV3_ASSIGN_OR_RETURN(n.max_items, count(s, "maxItems", path, kUnbounded));
      if (n.max_items < n.min_items) return make_error("{}: maxItems is below minItems", at(path));
      uint32_t items = 0;
      if (auto it = s.find("items"); it != s.end()) {
        DSV3_ASSIGN_OR_RETURN(items, value(*it, path + "/items", depth + 1));
      } else {
        items = g_.any_value();
      }
      n.children = {items};
      return g_.add(std::move(n));
    }
    if (type == "object") {
      Node n;
      n.kind = NodeKind::kObject;
      std::set<std::string> required;
      if (auto it = s.find("required"); it != s.end()) {
        if (!it->is_array()) return make_error("{}/required: must be an array of strings", at(path));
        for (const json& r : *it) {
          if (!r.is_string()) return make_error("{}/required: must be an array of strings", at(path));
          required.insert(r.get<std::string>());
        }
      }
      if (auto it = s.find("properties"); it != s.end()) {
        if (!it->is_object()) return make_error("{}/properties: must be an object", at(path));
        if (it->size() > 64) return make_error("{}/properties: more than 64 properties are not supported", at(path));
        for (const auto& [name, sub] : it->items()) {
          DSV3_ASSIGN_OR_RETURN(uint32_t v, value(sub, path + "/properties/" + name, depth + 1));
          n.properties.push_back({json(name).dump().substr(1, json(name).dump().size() - 2), v, required.count(name) > 0});
          required.erase(name);
        }
      }
      if (!required.empty())
        return make_error("{}/required: '{}' is not among the properties", at(path), *required.begin());
      if (auto it = s.find("additionalProperties"); it != s.end()) {
        if (it->is_boolean()) {
          if (it->get<bool>()) n.additional = g_.any_value();
        } else {
          DSV3_ASSIGN_OR_RETURN(uint32_t v, value(*it, path + "/additionalProperties", depth + 1));
          n.additional = v;
        }
      }
      return g_.add(std::move(n));
    }
    return make_error("{}/type: unknown type '{}'", at(path), type);
  }

  Grammar& g_;
  const json& root_;
  std::map<std::string, uint32_t> refs_;
};

}  // namespace

Result<uint32_t> add_schema(Grammar& g, const json& schema) {
  Compiler c(g, schema);
  return c.value(schema, "", 0);
}

Result<Grammar> schema_grammar(const json& schema, std::function<int64_t(std::string_view)> literal_cost) {
  Grammar g;
  g.literal_cost = std::move(literal_cost);
  DSV3_ASSIGN_OR_RETURN(g.root, add_schema(g, schema));
  g.finish();
  if (g.min_bytes[g.root] >= kNoValue) return make_error("schema: no value satisfies it");
  return g;
}

Grammar json_object_grammar(std::function<int64_t(std::string_view)> literal_cost) {
  Grammar g;
  g.literal_cost = std::move(literal_cost);
  g.any_value();
  g.root = g.any.object;
  g.finish();
  return g;
}

}  // namespace dsv3::grammar
