// How the filter files register their filters with filters.cpp, which alone
// looks them up. Each file adds its own names, so a filter is written and
// named in one place.
#pragma once
#include <string_view>
#include <unordered_map>

#include "base/status.h"
#include "jinja/arguments.h"
#include "jinja/budget.h"
#include "jinja/value.h"

namespace dsv3::jinja {

using FilterFn = Result<Value> (*)(const Value&, const CallArgs&, Budget&);
using FilterTable = std::unordered_map<std::string_view, FilterFn>;

void add_value_filters(FilterTable& table);     // default, attr, tojson
void add_string_filters(FilterTable& table);    // lower, replace, indent, format, ...
void add_number_filters(FilterTable& table);    // abs, int, float, round
void add_sequence_filters(FilterTable& table);  // map, select, sort, join, ...

}  // namespace dsv3::jinja
