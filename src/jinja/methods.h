// Python's methods that templates call on values (`s.strip()`, `d.items()`,
// `l.index(x)`): str methods in string_methods.cpp, dict and list methods
// and the dispatch by kind in methods.cpp.
#pragma once
#include <string>
#include <string_view>

#include "base/status.h"
#include "jinja/arguments.h"
#include "jinja/budget.h"
#include "jinja/value.h"

namespace dsv3::jinja {

// `self.name(args)`. Errors carry no position; the caller adds it.
Result<Value> call_method(const Value& self, std::string_view name, const CallArgs& args, Budget& budget);
// The str methods, which call_method dispatches to.
Result<Value> string_method(const std::string& s, std::string_view name, const CallArgs& args,
                            Budget& budget);

}  // namespace dsv3::jinja
