#include "jinja/access.h"

#include <algorithm>
#include <charconv>

#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

Value chars_of(const std::string& s) {
  std::vector<Value> out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    utf8_decode(s, i, &len);
    out.push_back(Value::string(s.substr(i, len)));
    i += len;
  }
  return Value::list(std::move(out));
}

Value loop_attr(const LoopInfo& loop, std::string_view name) {
  const int64_t i = loop.index0;
  const auto n = static_cast<int64_t>(loop.items.size());
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(1);
  if (name == "depth0") return Value::integer(0);
  if (name == "previtem" && i > 0) return loop.items[static_cast<size_t>(i - 1)];
  if (name == "nextitem" && i + 1 < n) return loop.items[static_cast<size_t>(i + 1)];
  if (name == "cycle") return Value::callable(Callable{"loop.cycle", nullptr, i});
  return Value::undefined(std::string(name));
}

}  // namespace

Value get_attr(const Value& obj, std::string_view name) {
  if (obj.kind() == Value::Kind::kLoop) return loop_attr(obj.as_loop(), name);
  const Value* v = nullptr;
  if (obj.is_dict()) v = obj.as_dict().find(name);
  if (obj.kind() == Value::Kind::kNamespace) v = obj.as_namespace().attrs.find(name);
  return v ? *v : Value::undefined(std::string(name));
}

Value get_item(const Value& obj, const Value& key) {
  if (key.is_string() &&
      (obj.is_dict() || obj.kind() == Value::Kind::kNamespace || obj.kind() == Value::Kind::kLoop)) {
    return get_attr(obj, key.as_string());
  }
  if (key.is_integral()) {
    int64_t i = key.as_int();
    if (obj.is_dict()) return get_attr(obj, std::to_string(i));
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.as_list().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.as_list()[static_cast<size_t>(i)];
    } else if (obj.is_string()) {
      const std::string& s = obj.as_string();
      const auto starts = utf8_starts(s);
      const auto n = static_cast<int64_t>(starts.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) {
        const size_t b = starts[static_cast<size_t>(i)];
        const size_t e = i + 1 < n ? starts[static_cast<size_t>(i + 1)] : s.size();
        return Value::string(s.substr(b, e - b));
      }
    }
  }
  return Value::undefined(key.is_string() ? key.as_string() : std::string());
}

Result<std::vector<Value>> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return std::vector<Value>{};
    case Value::Kind::kList:
      return v.as_list();
    case Value::Kind::kString:
      return chars_of(v.as_string()).as_list();
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      keys.reserve(v.as_dict().size());
      for (const auto& [key, value] : v.as_dict().entries()) keys.push_back(Value::string(key));
      return keys;
    }
    default:
      return make_error("'{}' object is not iterable", type_name(v));
  }
}

// Jinja's attribute paths: "a.b.0" looks up a, then b, then index 0.
Value get_path(const Value& v, const Value& attribute) {
  if (attribute.is_integral()) return get_item(v, attribute);
  if (!attribute.is_string()) return Value::undefined();
  Value cur = v;
  const std::string& path = attribute.as_string();
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty() && std::all_of(part.begin(), part.end(), ascii_digit)) {
      int64_t idx = 0;
      std::from_chars(part.data(), part.data() + part.size(), idx);
      cur = get_item(cur, Value::integer(idx));
    } else {
      cur = get_item(cur, Value::string(part));
    }
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value pairs_of(const Dict& d) {
  std::vector<Value> out;
  out.reserve(d.size());
  for (const auto& [key, value] : d.entries()) {
    out.push_back(Value::list({Value::string(key), value}, /*tuple=*/true));
  }
  return Value::list(std::move(out));
}

}  // namespace dsv3::jinja
