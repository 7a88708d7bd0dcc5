// How built-ins (filters, tests, methods, global functions) take their
// arguments: Python's binding of positional and keyword arguments to
// parameter names, and the conversions of optional arguments they share.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "jinja/value.h"

namespace dsv3::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// One value per name, in order; parameters not given stay undefined. `fn`
// names the function in errors.
Result<std::vector<Value>> bind(std::string_view fn, const CallArgs& args,
                                std::initializer_list<std::string_view> names);

// Whether an optional argument was passed (undefined: it was not).
bool given(const Value& v);
bool given_not_none(const Value& v);

// An optional argument, or `def` when not passed; an Error for the wrong type.
Result<int64_t> int_arg(const Value& v, std::string_view what, int64_t def);
bool bool_arg(const Value& v, bool def);  // any value, by truthiness
Result<std::string> str_arg(const Value& v, std::string_view what, std::string def);

}  // namespace dsv3::jinja
