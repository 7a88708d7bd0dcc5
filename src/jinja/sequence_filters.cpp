// Filters over lists, dicts and other iterables: sorting, selecting, mapping,
// grouping, joining and aggregating.
#include <algorithm>
#include <optional>
#include <utility>

#include "jinja/access.h"
#include "jinja/filter_table.h"
#include "jinja/filters.h"
#include "jinja/tests.h"
#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

// A stable merge sort that stays memory-safe even when `less` is not a
// strict weak order (mixed types, NaN), unlike std::sort.
template <class Less>
void merge_sort(std::vector<size_t>& idx, Less less) {
  std::vector<size_t> tmp(idx.size());
  for (size_t width = 1; width < idx.size(); width *= 2) {
    for (size_t lo = 0; lo < idx.size(); lo += 2 * width) {
      const size_t mid = std::min(lo + width, idx.size());
      const size_t hi = std::min(lo + 2 * width, idx.size());
      size_t a = lo, b = mid, k = lo;
      while (a < mid && b < hi) tmp[k++] = less(idx[b], idx[a]) ? idx[b++] : idx[a++];
      while (a < mid) tmp[k++] = idx[a++];
      while (b < hi) tmp[k++] = idx[b++];
    }
    idx.swap(tmp);
  }
}

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(to_lower(v.as_string()));
  return v;
}

// Sorts `items` by `keys` (Python order); an Error when keys don't compare.
Result<std::vector<Value>> sorted(std::vector<Value> items, const std::vector<Value>& keys, bool reverse,
                                  Budget& budget) {
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  DSV3_RETURN_IF_ERROR(budget.work(items.size() * 20 + 1));
  std::optional<Error> error;
  merge_sort(idx, [&](size_t a, size_t b) {
    auto c = reverse ? compare(keys[b], keys[a]) : compare(keys[a], keys[b]);
    if (!c.ok()) {
      if (!error) error = c.error();
      return false;
    }
    return c.value() < 0;
  });
  if (error) return *error;
  std::vector<Value> out;
  out.reserve(items.size());
  for (size_t i : idx) out.push_back(std::move(items[i]));
  return out;
}

Result<size_t> length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return size_t{0};
    case Value::Kind::kString:
      return utf8_length(v.as_string());
    case Value::Kind::kList:
      return v.as_list().size();
    case Value::Kind::kDict:
      return v.as_dict().size();
    default:
      return make_error("object of type '{}' has no len()", type_name(v));
  }
}

Result<Value> add_values(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral()) {
    int64_t r = 0;
    if (!__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return Value::integer(r);
  }
  return Value::number(a.as_double() + b.as_double());
}

// Jinja's batch: groups of `linecount` items, the last padded with fill_with.
Result<Value> f_batch(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("batch", args, {"linecount", "fill_with"}));
  DSV3_ASSIGN_OR_RETURN(int64_t n, int_arg(a[0], "linecount", 0));
  if (n <= 0) return make_error("batch() needs a positive linecount");
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  DSV3_RETURN_IF_ERROR(budget.work(items.size() + 1));
  std::vector<Value> out, group;
  for (Value& item : items) {
    group.push_back(std::move(item));
    if (static_cast<int64_t>(group.size()) == n) out.push_back(Value::list(std::exchange(group, {})));
  }
  if (!group.empty()) {
    if (given_not_none(a[1])) group.resize(static_cast<size_t>(n), a[1]);
    out.push_back(Value::list(std::move(group)));
  }
  return Value::lazy_list(std::move(out));
}

Result<Value> f_length(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("length", args, {}));
  DSV3_ASSIGN_OR_RETURN(size_t n, length_of(v));
  return Value::integer(static_cast<int64_t>(n));
}

Result<Value> f_dictsort(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("dictsort", args, {"case_sensitive", "by", "reverse"}));
  if (!v.is_dict()) return make_error("dictsort expects a dict, not '{}'", type_name(v));
  const bool cs = bool_arg(a[0], false);
  DSV3_ASSIGN_OR_RETURN(std::string by, str_arg(a[1], "by", "key"));
  if (by != "key" && by != "value") return make_error("You can only sort by either 'key' or 'value'");
  std::vector<Value> items = pairs_of(v.as_dict()).as_list();
  std::vector<Value> keys;
  for (const auto& item : items) keys.push_back(sort_key(item.as_list()[by == "key" ? 0 : 1], cs));
  DSV3_ASSIGN_OR_RETURN(auto out, sorted(std::move(items), keys, bool_arg(a[2], false), budget));
  return Value::list(std::move(out));
}

Result<Value> f_first(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("first", args, {}));
  if (v.is_list()) return v.as_list().empty() ? Value::undefined() : v.as_list().front();
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  return items.empty() ? Value::undefined() : items.front();
}

Result<Value> f_last(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("last", args, {}));
  if (v.is_list()) return v.as_list().empty() ? Value::undefined() : v.as_list().back();
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  return items.empty() ? Value::undefined() : items.back();
}

Result<Value> f_items(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("items", args, {}));
  if (v.is_undefined()) return Value::lazy_list({});
  if (!v.is_dict()) return make_error("items filter expects a mapping, not '{}'", type_name(v));
  return Value::lazy_list(pairs_of(v.as_dict()).as_list());
}

Result<Value> f_join(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("join", args, {"d", "attribute"}));
  const std::string sep = given(a[0]) ? to_str(a[0]) : "";
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += to_str(given(a[1]) ? get_path(items[i], a[1]) : items[i]);
    DSV3_RETURN_IF_ERROR(budget.string_size(out.size()));
  }
  DSV3_RETURN_IF_ERROR(budget.work(out.size() / 16 + items.size()));
  return Value::string(std::move(out));
}

Result<Value> f_list(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("list", args, {}));
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  DSV3_RETURN_IF_ERROR(budget.work(items.size()));
  return Value::list(std::move(items));
}

// map(attribute='x', default=...) or map('filter', args...).
Result<Value> f_map(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  DSV3_RETURN_IF_ERROR(budget.work(items.size()));
  std::vector<Value> out;
  out.reserve(items.size());
  if (args.positional.empty()) {
    DSV3_ASSIGN_OR_RETURN(auto a, bind("map", args, {"attribute", "default"}));
    if (!given(a[0])) return make_error("map() needs a filter name or attribute=");
    for (const Value& item : items) {
      Value x = get_path(item, a[0]);
      out.push_back(x.is_undefined() && given(a[1]) ? a[1] : std::move(x));
    }
    return Value::lazy_list(std::move(out));
  }
  if (!args.positional[0].is_string()) return make_error("map() filter name must be a string");
  const std::string name = args.positional[0].as_string();
  if (!is_filter_name(name)) return make_error("map(): unknown filter '{}'", name);
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items) {
    DSV3_ASSIGN_OR_RETURN(Value x, apply_filter(name, item, rest, budget));
    out.push_back(std::move(x));
  }
  return Value::lazy_list(std::move(out));
}

Result<Value> min_max(const Value& v, const CallArgs& args, Budget& budget, bool want_max) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind(want_max ? "max" : "min", args, {"case_sensitive", "attribute"}));
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  DSV3_RETURN_IF_ERROR(budget.work(items.size()));
  const bool cs = bool_arg(a[0], false);
  if (items.empty()) return Value::undefined();
  size_t best = 0;
  Value best_key = sort_key(given(a[1]) ? get_path(items[0], a[1]) : items[0], cs);
  for (size_t i = 1; i < items.size(); ++i) {
    Value key = sort_key(given(a[1]) ? get_path(items[i], a[1]) : items[i], cs);
    DSV3_ASSIGN_OR_RETURN(int c, compare(key, best_key));
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = std::move(key);
    }
  }
  return items[best];
}
Result<Value> f_max(const Value& v, const CallArgs& args, Budget& b) { return min_max(v, args, b, true); }
Result<Value> f_min(const Value& v, const CallArgs& args, Budget& b) { return min_max(v, args, b, false); }

// select/reject/selectattr/rejectattr share this: keep items whose (attribute)
// value passes the test (truthiness when no test is named) == `keep`.
Result<Value> select_impl(const Value& v, const CallArgs& args, Budget& budget, bool by_attr, bool keep) {
  if (!args.keyword.empty()) return make_error("select filters take no keyword arguments");
  size_t next = 0;
  Value attr;
  if (by_attr) {
    if (args.positional.empty()) return make_error("selectattr/rejectattr need an attribute name");
    attr = args.positional[next++];
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) return make_error("test name must be a string");
    test = args.positional[next++].as_string();
    if (!is_test_name(test)) return make_error("unknown test '{}'", test);
  }
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  DSV3_RETURN_IF_ERROR(budget.work(items.size()));
  std::vector<Value> out;
  for (Value& item : items) {
    const Value x = by_attr ? get_path(item, attr) : item;
    bool pass = false;
    if (test.empty()) {
      pass = truthy(x);
    } else {
      DSV3_ASSIGN_OR_RETURN(pass, apply_test(test, x, rest));
    }
    if (pass == keep) out.push_back(std::move(item));
  }
  return Value::lazy_list(std::move(out));
}
Result<Value> f_select(const Value& v, const CallArgs& a, Budget& b) {
  return select_impl(v, a, b, false, true);
}
Result<Value> f_reject(const Value& v, const CallArgs& a, Budget& b) {
  return select_impl(v, a, b, false, false);
}
Result<Value> f_selectattr(const Value& v, const CallArgs& a, Budget& b) {
  return select_impl(v, a, b, true, true);
}
Result<Value> f_rejectattr(const Value& v, const CallArgs& a, Budget& b) {
  return select_impl(v, a, b, true, false);
}

Result<Value> f_reverse(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("reverse", args, {}));
  if (v.is_string()) {
    const std::string& s = v.as_string();
    const auto starts = utf8_starts(s);
    std::string out;
    out.reserve(s.size());
    for (size_t i = starts.size(); i-- > 0;) {
      const size_t end = i + 1 < starts.size() ? starts[i + 1] : s.size();
      out.append(s, starts[i], end - starts[i]);
    }
    return Value::string(std::move(out));
  }
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  DSV3_RETURN_IF_ERROR(budget.work(items.size()));
  std::reverse(items.begin(), items.end());
  return Value::lazy_list(std::move(items));  // an iterator in Jinja
}

Result<Value> f_sort(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("sort", args, {"reverse", "case_sensitive", "attribute"}));
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  const bool cs = bool_arg(a[1], false);
  std::vector<Value> keys;
  keys.reserve(items.size());
  // Jinja's sort keys are one-item lists (make_multi_attrgetter), so equal
  // items never meet `<`: [None, None]|sort is fine where None < None is not
  for (const Value& item : items)
    keys.push_back(Value::list({sort_key(given(a[2]) ? get_path(item, a[2]) : item, cs)}));
  DSV3_ASSIGN_OR_RETURN(auto out, sorted(std::move(items), keys, bool_arg(a[0], false), budget));
  return Value::list(std::move(out));
}

Result<Value> f_sum(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("sum", args, {"attribute", "start"}));
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  DSV3_RETURN_IF_ERROR(budget.work(items.size()));
  Value total = given(a[1]) ? a[1] : Value::integer(0);
  for (const Value& item : items) {
    const Value x = given(a[0]) ? get_path(item, a[0]) : item;
    if (!x.is_number() || !total.is_number()) {
      return make_error("unsupported operand type(s) for +: '{}' and '{}'", type_name(total), type_name(x));
    }
    DSV3_ASSIGN_OR_RETURN(total, add_values(total, x));
  }
  return total;
}

Result<Value> f_unique(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("unique", args, {"case_sensitive", "attribute"}));
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  const bool cs = bool_arg(a[0], false);
  std::vector<Value> out, seen;
  for (Value& item : items) {
    Value key = sort_key(given(a[1]) ? get_path(item, a[1]) : item, cs);
    DSV3_RETURN_IF_ERROR(budget.work(seen.size() + 1));
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) {
      seen.push_back(std::move(key));
      out.push_back(std::move(item));
    }
  }
  return Value::lazy_list(std::move(out));
}

}  // namespace

void add_sequence_filters(FilterTable& table) {
  table.insert({{"batch", f_batch}, {"count", f_length}, {"dictsort", f_dictsort}, {"first", f_first},
                {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length},
                {"list", f_list}, {"map", f_map}, {"max", f_max}, {"min", f_min}, {"reject", f_reject},
                {"rejectattr", f_rejectattr}, {"reverse", f_reverse}, {"select", f_select},
                {"selectattr", f_selectattr}, {"sort", f_sort}, {"sum", f_sum}, {"unique", f_unique}});
}

}  // namespace dsv3::jinja
