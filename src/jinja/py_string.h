// Python's str algorithms that both the string filters and the str methods
// use, by code point as Python does.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "jinja/budget.h"
#include "jinja/value.h"

namespace dsv3::jinja {

// str.strip / lstrip / rstrip; `chars` undefined or None strips whitespace.
Result<std::string> py_strip(const std::string& s, const Value& chars, bool left, bool right);
// str.replace; count < 0 replaces all. The result is held to the budget's string size.
Result<std::string> py_replace(const std::string& s, const std::string& old, const std::string& repl,
                               int64_t count, Budget& budget);
// str.splitlines, on every line boundary Python knows.
std::vector<std::string> split_lines(const std::string& s, bool keepends);

}  // namespace dsv3::jinja
