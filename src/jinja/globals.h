// The global functions templates may call: range, namespace, dict,
// raise_exception, strftime_now, and the loop object's loop.cycle.
#pragma once
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jinja/arguments.h"
#include "jinja/budget.h"
#include "jinja/value.h"

namespace dsv3::jinja {

// The names a template can call without defining them (loop.cycle excepted).
const std::vector<std::string_view>& global_names();
// Errors carry no position; the caller adds it.
Result<Value> call_global(const Callable& fn, const CallArgs& args, Budget& budget);

}  // namespace dsv3::jinja
