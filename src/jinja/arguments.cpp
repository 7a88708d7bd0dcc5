#include "jinja/arguments.h"

#include <algorithm>

namespace dsv3::jinja {

// Binds positional then keyword arguments to parameter names, as Python does;
// parameters not given stay undefined.
Result<std::vector<Value>> bind(std::string_view fn, const CallArgs& args,
                                std::initializer_list<std::string_view> names) {
  std::vector<Value> out(names.size());
  if (args.positional.size() > names.size()) {
    return make_error("{}() takes at most {} arguments ({} given)", fn, names.size(), args.positional.size());
  }
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    auto it = std::find(names.begin(), names.end(), key);
    if (it == names.end()) return make_error("{}() got an unexpected keyword argument '{}'", fn, key);
    const auto idx = static_cast<size_t>(it - names.begin());
    if (idx < args.positional.size())
      return make_error("{}() got multiple values for argument '{}'", fn, key);
    out[idx] = value;
  }
  return out;
}

bool given(const Value& v) { return !v.is_undefined(); }
bool given_not_none(const Value& v) { return !v.is_undefined() && !v.is_none(); }

Result<int64_t> int_arg(const Value& v, std::string_view what, int64_t def) {
  if (!given_not_none(v)) return def;
  if (v.is_integral()) return v.as_int();
  return make_error("{} must be an integer, not '{}'", what, type_name(v));
}

bool bool_arg(const Value& v, bool def) { return given(v) ? truthy(v) : def; }

Result<std::string> str_arg(const Value& v, std::string_view what, std::string def) {
  if (!given(v)) return def;
  if (v.is_string()) return v.as_string();
  return make_error("{} must be a string, not '{}'", what, type_name(v));
}

}  // namespace dsv3::jinja
