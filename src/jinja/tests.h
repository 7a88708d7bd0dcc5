// Jinja's tests (`value is defined`, `value is divisibleby(3)`), looked up by name.
#pragma once
#include <string_view>

#include "base/status.h"
#include "jinja/arguments.h"
#include "jinja/value.h"

namespace dsv3::jinja {

// Known at parse time, so a typo fails there (as Jinja's compiler does).
bool is_test_name(std::string_view name);
// Errors carry no position; the caller adds it.
Result<bool> apply_test(std::string_view name, const Value& value, const CallArgs& args);

}  // namespace dsv3::jinja
