#include "jinja/globals.h"

#include <ctime>
#include <memory>

namespace dsv3::jinja {

const std::vector<std::string_view>& global_names() {
  static const std::vector<std::string_view> names{"range", "namespace", "dict", "raise_exception",
                                                   "strftime_now"};
  return names;
}

Result<Value> call_global(const Callable& fn, const CallArgs& args, Budget& budget) {
  const std::string& name = fn.name;
  if (name == "range") {
    if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3) {
      return make_error("range() takes 1 to 3 integer arguments");
    }
    int64_t v[3] = {0, 0, 1};
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (!args.positional[i].is_integral()) {
        return make_error("range() arguments must be integers, not '{}'", type_name(args.positional[i]));
      }
    }
    if (args.positional.size() == 1) {
      v[1] = args.positional[0].as_int();
    } else {
      for (size_t i = 0; i < args.positional.size(); ++i) v[i] = args.positional[i].as_int();
    }
    if (v[2] == 0) return make_error("range() arg 3 must not be zero");
    // 128-bit so that extreme bounds cannot overflow.
    const __int128 start = v[0], stop = v[1], step = v[2];
    const __int128 n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                                : (start > stop ? (start - stop - step - 1) / -step : 0);
    if (n > static_cast<__int128>(budget.limits().max_list_items)) {
      return make_error("range() of {} or more items exceeds the limit of {} items",
                        budget.limits().max_list_items + 1, budget.limits().max_list_items);
    }
    std::vector<Value> out;
    out.reserve(static_cast<size_t>(n));
    for (__int128 k = 0; k < n; ++k) out.push_back(Value::integer(static_cast<int64_t>(start + k * step)));
    DSV3_RETURN_IF_ERROR(budget.work(out.size()));
    return Value::list(std::move(out));
  }
  if (name == "namespace" || name == "dict") {
    Dict d;
    if (args.positional.size() > 1) return make_error("{}() takes at most one positional argument", name);
    if (!args.positional.empty()) {
      if (!args.positional[0].is_dict()) return make_error("{}() positional argument must be a dict", name);
      d = args.positional[0].as_dict();
    }
    for (const auto& [k, v] : args.keyword) d.set(k, v);
    if (name == "dict") return Value::dict(std::move(d));
    for (const auto& [k, v] : d.entries()) {
      if (v.has_namespace())
        return make_error("a namespace cannot hold a namespace or loop object ('{}')", k);
    }
    auto ns = std::make_shared<Namespace>();
    ns->attrs = std::move(d);
    return Value::namespace_object(std::move(ns));
  }
  if (name == "raise_exception") {
    if (args.positional.size() != 1 || !args.keyword.empty())
      return make_error("raise_exception() takes one argument");
    return make_error("{}", to_str(args.positional[0]));
  }
  if (name == "strftime_now") {
    if (args.positional.size() != 1 || !args.positional[0].is_string() || !args.keyword.empty()) {
      return make_error("strftime_now() takes one format string");
    }
    const std::string& f = args.positional[0].as_string();
    if (f.size() > 256) return make_error("strftime_now() format is too long");
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    std::string buf(f.size() * 64 + 64, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), f.c_str(), &tm);
    buf.resize(n);
    return Value::string(std::move(buf));
  }
  if (name == "loop.cycle") {
    if (args.positional.empty()) return make_error("loop.cycle() needs at least one argument");
    return args.positional[static_cast<size_t>(fn.bound) % args.positional.size()];
  }
  return make_error("'{}' is not callable", name);
}

}  // namespace dsv3::jinja
