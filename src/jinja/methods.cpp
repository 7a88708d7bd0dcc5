#include "jinja/methods.h"

#include <algorithm>
#include <iterator>

#include "jinja/access.h"

namespace dsv3::jinja {
namespace {

Result<Value> dict_method(const Dict& d, std::string_view name, const CallArgs& args, Budget& budget) {
  DSV3_RETURN_IF_ERROR(budget.work(d.size() + 1));
  if (name == "items") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {}));
    return pairs_of(d);
  }
  if (name == "keys" || name == "values") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {}));
    std::vector<Value> out;
    out.reserve(d.size());
    for (const auto& [key, value] : d.entries()) out.push_back(name == "keys" ? Value::string(key) : value);
    return Value::list(std::move(out));
  }
  if (name == "get") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"key", "default"}));
    const Value* v = a[0].is_string() ? d.find(a[0].as_string()) : nullptr;
    if (v) return *v;
    return given(a[1]) ? a[1] : Value::none();
  }
  return make_error("'dict' object has no method '{}'", name);
}

Result<Value> list_method(const Value& list, std::string_view name, const CallArgs& args, Budget& budget) {
  const auto& items = list.as_list();
  DSV3_RETURN_IF_ERROR(budget.work(items.size() + 1));
  if (name == "index" || name == "count") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"value"}));
    int64_t n = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!equals(items[i], a[0])) continue;
      if (name == "index") return Value::integer(static_cast<int64_t>(i));
      ++n;
    }
    if (name == "index") return make_error("{} is not in list", repr(a[0]));
    return Value::integer(n);
  }
  static constexpr std::string_view kMutators[] = {"append", "extend", "insert", "pop",
                                                   "remove", "clear",  "sort",   "reverse"};
  if (std::find(std::begin(kMutators), std::end(kMutators), name) != std::end(kMutators)) {
    return make_error("lists are immutable in templates ('{}' is not allowed)", name);
  }
  return make_error("'{}' object has no method '{}'", type_name(list), name);
}

}  // namespace

Result<Value> call_method(const Value& self, std::string_view name, const CallArgs& args, Budget& budget) {
  switch (self.kind()) {
    case Value::Kind::kString:
      return string_method(self.as_string(), name, args, budget);
    case Value::Kind::kDict:
      return dict_method(self.as_dict(), name, args, budget);
    case Value::Kind::kList:
      return list_method(self, name, args, budget);
    case Value::Kind::kUndefined:
      if (!self.undefined_name().empty()) {
        return make_error("'{}' is undefined (calling its method '{}')", self.undefined_name(), name);
      }
      return make_error("cannot call method '{}' of an undefined value", name);
    default:
      return make_error("'{}' object has no method '{}'", type_name(self), name);
  }
}

}  // namespace dsv3::jinja
