// Reading values the way templates do: `obj.name`, `obj[key]`, Jinja's dotted
// attribute paths (map(attribute='a.b')), and what a for loop visits.
#pragma once
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jinja/value.h"

namespace dsv3::jinja {

// `obj.name` and `obj[key]`: missing members are undefined, never errors.
Value get_attr(const Value& obj, std::string_view name);
Value get_item(const Value& obj, const Value& key);
// What a for loop visits: list items, dict keys, string characters;
// nothing for undefined; an Error for other kinds.
Result<std::vector<Value>> iterate(const Value& v);
// An attribute path: "a.b.0" looks up a, then b, then index 0; an integer
// is one index. Anything else gives undefined.
Value get_path(const Value& v, const Value& attribute);
// A dict's (key, value) tuples, in order: dict.items() and the items filter.
Value pairs_of(const Dict& d);

}  // namespace dsv3::jinja
