// Jinja's filters (`value | name(args)`), looked up by name. The filters
// themselves live in value_filters.cpp, string_filters.cpp,
// number_filters.cpp and sequence_filters.cpp.
#pragma once
#include <string_view>

#include "base/status.h"
#include "jinja/arguments.h"
#include "jinja/budget.h"
#include "jinja/value.h"

namespace dsv3::jinja {

// Known at parse time, so a typo fails there (as Jinja's compiler does).
bool is_filter_name(std::string_view name);
// Errors carry no position; the caller adds it.
Result<Value> apply_filter(std::string_view name, const Value& value, const CallArgs& args, Budget& budget);

}  // namespace dsv3::jinja
