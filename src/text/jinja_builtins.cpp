#include "text/jinja_builtins.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <optional>
#include <unordered_map>

namespace dsv3::text::jinja {

// ---- Budget -----------------------------------------------------------------

Status Budget::work(uint64_t units) {
  work_ += units;
  if (work_ > limits_.max_work) {
    return make_error("template exceeded its work limit ({} steps)", limits_.max_work);
  }
  return {};
}

Status Budget::iteration() {
  if (++iterations_ > limits_.max_loop_iterations) {
    return make_error("template loops ran more than {} iterations", limits_.max_loop_iterations);
  }
  return {};
}

Status Budget::string_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    return make_error("string of {} bytes exceeds the limit of {} bytes", bytes, limits_.max_output_bytes);
  }
  return {};
}

Status Budget::list_size(size_t items) const {
  if (items > limits_.max_list_items) {
    return make_error("list of {} items exceeds the limit of {} items", items, limits_.max_list_items);
  }
  return {};
}

namespace {

// ---- arguments ----------------------------------------------------------------

// Binds positional then keyword arguments to parameter names, as Python does;
// parameters not given stay undefined.
Result<std::vector<Value>> bind(std::string_view fn, const CallArgs& args,
                                std::initializer_list<std::string_view> names) {
  std::vector<Value> out(names.size());
  if (args.positional.size() > names.size()) {
    return make_error("{}() takes at most {} arguments ({} given)", fn, names.size(), args.positional.size());
  }
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    auto it = std::find(names.begin(), names.end(), key);
    if (it == names.end()) return make_error("{}() got an unexpected keyword argument '{}'", fn, key);
    const auto idx = static_cast<size_t>(it - names.begin());
    if (idx < args.positional.size())
      return make_error("{}() got multiple values for argument '{}'", fn, key);
    out[idx] = value;
  }
  return out;
}

bool given(const Value& v) { return !v.is_undefined(); }
bool given_not_none(const Value& v) { return !v.is_undefined() && !v.is_none(); }

Result<int64_t> int_arg(const Value& v, std::string_view what, int64_t def) {
  if (!given_not_none(v)) return def;
  if (v.is_integral()) return v.as_int();
  return make_error("{} must be an integer, not '{}'", what, type_name(v));
}

bool bool_arg(const Value& v, bool def) { return given(v) ? truthy(v) : def; }

Result<std::string> str_arg(const Value& v, std::string_view what, std::string def) {
  if (!given(v)) return def;
  if (v.is_string()) return v.as_string();
  return make_error("{} must be a string, not '{}'", what, type_name(v));
}

// ---- strings ------------------------------------------------------------------

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
bool ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

// One-to-one case mapping for ASCII, Latin-1, Latin Extended-A, Greek and
// Cyrillic; other scripts pass through unchanged.
bool latin_a_even_upper(uint32_t c) {
  return (c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
}
bool latin_a_odd_upper(uint32_t c) { return (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E); }

uint32_t cp_lower(uint32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (latin_a_even_upper(c)) return c % 2 == 0 ? c + 1 : c;
  if (latin_a_odd_upper(c)) return c % 2 == 1 ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

uint32_t cp_upper(uint32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (latin_a_even_upper(c)) return c % 2 == 1 ? c - 1 : c;
  if (latin_a_odd_upper(c)) return c % 2 == 0 ? c - 1 : c;
  if (c == 0x131) return 'I';
  if (c == 0x17F) return 'S';
  if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

bool cp_cased(uint32_t c) { return cp_lower(c) != c || cp_upper(c) != c || c == 0xDF; }

void append_upper(std::string& out, uint32_t c) {
  if (c == 0xDF) {
    out += "SS";  // as Python
  } else {
    utf8_append(out, cp_upper(c));
  }
}

// Calls f(out, code_point) for each character; invalid bytes are copied as is.
template <class F>
std::string map_chars(const std::string& s, F&& f) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_decode(s, i, &len);
    if (len == 1 && cp >= 0x80) {
      out += s[i];
    } else {
      f(out, cp);
    }
    i += len;
  }
  return out;
}

std::string to_upper(const std::string& s) {
  return map_chars(s, [](std::string& out, uint32_t c) { append_upper(out, c); });
}
std::string to_lower(const std::string& s) {
  return map_chars(s, [](std::string& out, uint32_t c) { utf8_append(out, cp_lower(c)); });
}

// Python's str.capitalize(): first character upper, the rest lower.
std::string capitalize(const std::string& s) {
  bool first = true;
  return map_chars(s, [&](std::string& out, uint32_t c) {
    if (first) {
      append_upper(out, c);
    } else {
      utf8_append(out, cp_lower(c));
    }
    first = false;
  });
}

// Python's str.title(): a cased character after an uncased one starts a word.
std::string title_method(const std::string& s) {
  bool prev_cased = false;
  return map_chars(s, [&](std::string& out, uint32_t c) {
    if (prev_cased) {
      utf8_append(out, cp_lower(c));
    } else {
      append_upper(out, c);
    }
    prev_cased = cp_cased(c);
  });
}

// Python's str.islower() / isupper(): some cased characters, all of one case.
bool is_all_case(const std::string& s, bool lower) {
  bool any = false;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t c = utf8_decode(s, i, &len);
    i += len;
    if (!cp_cased(c)) continue;
    if (lower ? cp_lower(c) != c : (cp_upper(c) != c || c == 0xDF)) return false;
    any = true;
  }
  return any;
}

// Jinja's title filter: words start after whitespace, '-', '(', '{', '[', '<'.
std::string title_filter(const std::string& s) {
  bool word_start = true;
  return map_chars(s, [&](std::string& out, uint32_t c) {
    const bool sep = is_py_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      utf8_append(out, c);
    } else if (word_start) {
      append_upper(out, c);
    } else {
      utf8_append(out, cp_lower(c));
    }
    word_start = sep;
  });
}

// Python's strip family; `chars` undefined or None strips whitespace.
Result<std::string> py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<uint32_t> set;
  const bool ws = !given_not_none(chars);
  if (!ws) {
    if (!chars.is_string()) return make_error("strip arg must be None or str");
    const std::string& c = chars.as_string();
    for (size_t i = 0; i < c.size();) {
      size_t len = 1;
      set.push_back(utf8_decode(c, i, &len));
      i += len;
    }
  }
  auto strip_it = [&](uint32_t cp) {
    return ws ? is_py_space(cp) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t begin = 0, end = 0;
  bool seen = false;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const bool strip = strip_it(utf8_decode(s, i, &len));
    if (!strip) {
      if (!seen) begin = i;
      seen = true;
      end = i + len;
    }
    i += len;
  }
  if (!seen) return std::string();
  if (!left) begin = 0;
  if (!right) end = s.size();
  return s.substr(begin, end - begin);
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Python's str.split / rsplit.
Result<Value> py_split(const std::string& s, const Value& sep_v, const Value& max_v, bool from_right) {
  DSV3_ASSIGN_OR_RETURN(int64_t maxsplit, int_arg(max_v, "maxsplit", -1));
  std::vector<std::string> parts;
  if (!given_not_none(sep_v)) {
    // Runs of whitespace separate; leading/trailing whitespace yields nothing.
    std::vector<std::pair<size_t, size_t>> words;
    size_t start = std::string::npos;
    for (size_t i = 0; i < s.size();) {
      size_t len = 1;
      const bool space = is_py_space(utf8_decode(s, i, &len));
      if (space && start != std::string::npos) {
        words.emplace_back(start, i);
        start = std::string::npos;
      } else if (!space && start == std::string::npos) {
        start = i;
      }
      i += len;
    }
    if (start != std::string::npos) words.emplace_back(start, s.size());
    if (maxsplit >= 0 && words.size() > static_cast<size_t>(maxsplit) + 1) {
      const auto keep = static_cast<size_t>(maxsplit);
      if (from_right) {
        const size_t cut = words.size() - keep - 1;
        parts.push_back(s.substr(0, words[cut].second));  // keeps leading whitespace, as Python
        for (size_t i = cut + 1; i < words.size(); ++i) {
          parts.push_back(s.substr(words[i].first, words[i].second - words[i].first));
        }
      } else {
        for (size_t i = 0; i < keep; ++i)
          parts.push_back(s.substr(words[i].first, words[i].second - words[i].first));
        parts.push_back(s.substr(words[keep].first));  // keeps trailing whitespace, as Python
      }
    } else {
      for (const auto& [b, e] : words) parts.push_back(s.substr(b, e - b));
    }
  } else {
    if (!sep_v.is_string()) return make_error("split separator must be a string");
    const std::string& sep = sep_v.as_string();
    if (sep.empty()) return make_error("empty separator");
    std::vector<size_t> hits;
    for (size_t p = s.find(sep); p != std::string::npos; p = s.find(sep, p + sep.size())) hits.push_back(p);
    if (maxsplit >= 0 && hits.size() > static_cast<size_t>(maxsplit)) {
      // rsplit keeps the rightmost separators, split the leftmost. (Overlapping
      // separator matches are resolved left to right in both; rare enough.)
      if (from_right) {
        hits.erase(hits.begin(), hits.end() - maxsplit);
      } else {
        hits.resize(static_cast<size_t>(maxsplit));
      }
    }
    size_t prev = 0;
    for (size_t h : hits) {
      parts.push_back(s.substr(prev, h - prev));
      prev = h + sep.size();
    }
    parts.push_back(s.substr(prev));
  }
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return Value::list(std::move(out));
}

Result<std::string> py_replace(const std::string& s, const std::string& old, const std::string& repl,
                               int64_t count, Budget& budget) {
  std::string out;
  int64_t done = 0;
  auto room = [&](size_t extra) { return budget.string_size(out.size() + extra); };
  if (old.empty()) {  // inserts between characters and at both ends
    for (size_t i = 0; i <= s.size();) {
      if (count < 0 || done < count) {
        DSV3_RETURN_IF_ERROR(room(repl.size()));
        out += repl;
        ++done;
      }
      if (i == s.size()) break;
      size_t len = 1;
      utf8_decode(s, i, &len);
      out.append(s, i, len);
      i += len;
    }
    return out;
  }
  size_t prev = 0;
  for (size_t p = s.find(old); p != std::string::npos && (count < 0 || done < count);
       p = s.find(old, p + old.size())) {
    DSV3_RETURN_IF_ERROR(room(p - prev + repl.size()));
    out.append(s, prev, p - prev);
    out += repl;
    prev = p + old.size();
    ++done;
  }
  out.append(s, prev, std::string::npos);
  DSV3_RETURN_IF_ERROR(room(0));
  return out;
}

std::vector<std::string> split_lines(const std::string& s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_decode(s, i, &len);
    const bool br = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D ||
                    cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!br) {
      i += len;
      continue;
    }
    size_t end = i + len;
    if (cp == '\r' && end < s.size() && s[end] == '\n') ++end;
    lines.push_back(s.substr(start, (keepends ? end : i) - start));
    start = i = end;
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

// Code point index of the byte offset `b` in s.
int64_t cp_index(const std::string& s, size_t b) {
  return static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, b)));
}

Value chars_of(const std::string& s) {
  std::vector<Value> out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    utf8_decode(s, i, &len);
    out.push_back(Value::string(s.substr(i, len)));
    i += len;
  }
  return Value::list(std::move(out));
}

// Python's int(str, base) with Jinja's fallback to int(float(str)).
std::optional<int64_t> parse_int(const std::string& raw, int base) {
  std::string s;
  for (char c : raw) {
    if (c != '_') s += c;
  }
  size_t b = 0, e = s.size();
  while (b < e && is_py_space(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && is_py_space(static_cast<unsigned char>(s[e - 1]))) --e;
  bool neg = false;
  if (b < e && (s[b] == '+' || s[b] == '-')) neg = s[b++] == '-';
  if (e - b > 2 && s[b] == '0') {
    const char p = ascii_lower(s[b + 1]);
    const int prefixed = p == 'x' ? 16 : (p == 'o' ? 8 : (p == 'b' ? 2 : 0));
    if (prefixed && (base == 0 || base == prefixed)) {
      base = prefixed;
      b += 2;
    }
  }
  if (base == 0) base = 10;
  if (base < 2 || base > 36 || b >= e) return std::nullopt;
  uint64_t mag = 0;
  auto res = std::from_chars(s.data() + b, s.data() + e, mag, base);
  if (res.ec != std::errc() || res.ptr != s.data() + e) return std::nullopt;
  if (mag > static_cast<uint64_t>(INT64_MAX) + (neg ? 1 : 0)) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
}

std::optional<double> parse_float(const std::string& raw) {
  size_t b = 0, e = raw.size();
  while (b < e && is_py_space(static_cast<unsigned char>(raw[b]))) ++b;
  while (e > b && is_py_space(static_cast<unsigned char>(raw[e - 1]))) --e;
  if (b < e && raw[b] == '+') ++b;
  double d = 0;
  auto res = std::from_chars(raw.data() + b, raw.data() + e, d);
  if (b >= e || res.ec != std::errc() || res.ptr != raw.data() + e) return std::nullopt;
  return d;
}

// ---- containers -----------------------------------------------------------------

Value pairs_of(const Dict& d) {
  std::vector<Value> out;
  out.reserve(d.size());
  for (const auto& [key, value] : d.entries()) {
    out.push_back(Value::list({Value::string(key), value}, /*tuple=*/true));
  }
  return Value::list(std::move(out));
}

// Jinja's attribute paths: "a.b.0" looks up a, then b, then index 0.
Value get_path(const Value& v, const Value& attribute) {
  if (attribute.is_integral()) return get_item(v, attribute);
  if (!attribute.is_string()) return Value::undefined();
  Value cur = v;
  const std::string& path = attribute.as_string();
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty() && std::all_of(part.begin(), part.end(), ascii_digit)) {
      int64_t idx = 0;
      std::from_chars(part.data(), part.data() + part.size(), idx);
      cur = get_item(cur, Value::integer(idx));
    } else {
      cur = get_item(cur, Value::string(part));
    }
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

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

// ---- filters ----------------------------------------------------------------------

using FilterFn = Result<Value> (*)(const Value&, const CallArgs&, Budget&);

Result<Value> f_abs(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("abs", args, {}));
  if (v.is_integral()) {
    const int64_t i = v.as_int();
    if (i == INT64_MIN) return Value::number(-static_cast<double>(i));
    return Value::integer(i < 0 ? -i : i);
  }
  if (v.is_number()) return Value::number(std::fabs(v.as_double()));
  return make_error("bad operand type for abs(): '{}'", type_name(v));
}

Result<Value> f_attr(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("attr", args, {"name"}));
  DSV3_ASSIGN_OR_RETURN(std::string name, str_arg(a[0], "attr name", ""));
  return get_attr(v, name);
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

Result<Value> f_capitalize(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("capitalize", args, {}));
  return Value::string(capitalize(to_str(v)));
}

Result<Value> f_center(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("center", args, {"width"}));
  DSV3_ASSIGN_OR_RETURN(int64_t width, int_arg(a[0], "width", 80));
  const std::string s = to_str(v);
  const auto len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return Value::string(s);
  DSV3_RETURN_IF_ERROR(budget.string_size(static_cast<size_t>(width - len) + s.size()));
  const int64_t marg = width - len;
  const int64_t left = marg / 2 + (marg & width & 1);  // CPython's rounding
  return Value::string(std::string(static_cast<size_t>(left), ' ') + s +
                       std::string(static_cast<size_t>(marg - left), ' '));
}

Result<Value> f_length(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("length", args, {}));
  DSV3_ASSIGN_OR_RETURN(size_t n, length_of(v));
  return Value::integer(static_cast<int64_t>(n));
}

Result<Value> f_default(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("default", args, {"default_value", "boolean"}));
  const bool boolean = bool_arg(a[1], false);
  if (v.is_undefined() || (boolean && !truthy(v))) return given(a[0]) ? a[0] : Value::string("");
  return v;
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

Result<Value> f_escape(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("escape", args, {}));
  return Value::string(html_escape(to_str(v)));
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

Result<Value> f_float(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("float", args, {"default"}));
  const Value def = given(a[0]) ? a[0] : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    if (auto d = parse_float(v.as_string())) return Value::number(*d);
  }
  return def;
}

Result<Value> f_int(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("int", args, {"default", "base"}));
  const Value def = given(a[0]) ? a[0] : Value::integer(0);
  DSV3_ASSIGN_OR_RETURN(int64_t base, int_arg(a[1], "base", 10));
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.kind() == Value::Kind::kFloat) {
    const double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return def;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (auto i = parse_int(v.as_string(), static_cast<int>(base))) return Value::integer(*i);
    if (auto d = parse_float(v.as_string()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) {
      return Value::integer(static_cast<int64_t>(*d));
    }
  }
  return def;
}

// Python %-formatting for the `format` filter: %s %r %d %i %f %%.
Result<Value> f_format(const Value& v, const CallArgs& args, Budget& budget) {
  if (!args.keyword.empty()) return make_error("format() keyword arguments are not supported");
  const std::string f = to_str(v);
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (++i >= f.size()) return make_error("incomplete format");
    int precision = -1;
    if (f[i] == '.') {
      precision = 0;
      while (++i < f.size() && ascii_digit(f[i])) precision = std::min(precision * 10 + (f[i] - '0'), 100);
      if (i >= f.size()) return make_error("incomplete format");
    }
    const char c = f[i];
    if (c == '%') {
      out += '%';
      continue;
    }
    if (next >= args.positional.size()) return make_error("not enough arguments for format string");
    const Value& arg = args.positional[next++];
    switch (c) {
      case 's':
        out += to_str(arg);
        break;
      case 'r':
        out += repr(arg);
        break;
      case 'd':
      case 'i':
        if (!arg.is_number())
          return make_error("%{} format: a number is required, not {}", c, type_name(arg));
        out += arg.is_integral() ? std::to_string(arg.as_int())
                                 : std::to_string(static_cast<int64_t>(std::trunc(arg.as_double())));
        break;
      case 'f':
        if (!arg.is_number()) return make_error("%f format: a number is required, not {}", type_name(arg));
        out += fmt::format("{:.{}f}", arg.as_double(), precision < 0 ? 6 : precision);
        break;
      default:
        return make_error("unsupported format character '{}'", c);
    }
    DSV3_RETURN_IF_ERROR(budget.string_size(out.size()));
  }
  if (next < args.positional.size())
    return make_error("not all arguments converted during string formatting");
  return Value::string(std::move(out));
}

Result<Value> f_indent(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("indent", args, {"width", "first", "blank"}));
  std::string pad;
  if (a[0].is_string()) {
    pad = a[0].as_string();
  } else {
    DSV3_ASSIGN_OR_RETURN(int64_t width, int_arg(a[0], "width", 4));
    DSV3_RETURN_IF_ERROR(budget.string_size(static_cast<size_t>(std::max<int64_t>(width, 0))));
    pad.assign(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  }
  const bool first = bool_arg(a[1], false), blank = bool_arg(a[2], false);
  const std::vector<std::string> lines = split_lines(to_str(v) + "\n", false);
  DSV3_RETURN_IF_ERROR(budget.string_size(to_str(v).size() + lines.size() * pad.size()));
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += "\n";
    if (i && (blank || !lines[i].empty())) out += pad;
    out += lines[i];
  }
  if (first) out = pad + out;
  return Value::string(std::move(out));
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

Result<Value> f_lower(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("lower", args, {}));
  return Value::string(to_lower(to_str(v)));
}

Result<Value> f_upper(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("upper", args, {}));
  return Value::string(to_upper(to_str(v)));
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

Result<Value> f_replace(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("replace", args, {"old", "new", "count"}));
  if (!given(a[0]) || !given(a[1])) return make_error("replace() needs old and new strings");
  DSV3_ASSIGN_OR_RETURN(int64_t count, int_arg(a[2], "count", -1));
  const std::string s = to_str(v);
  DSV3_RETURN_IF_ERROR(budget.work(s.size() / 16 + 1));
  DSV3_ASSIGN_OR_RETURN(std::string out, py_replace(s, to_str(a[0]), to_str(a[1]), count, budget));
  return Value::string(std::move(out));
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

// Python's round(): half to even; ceil/floor methods as Jinja.
Result<Value> f_round(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("round", args, {"precision", "method"}));
  DSV3_ASSIGN_OR_RETURN(int64_t precision, int_arg(a[0], "precision", 0));
  DSV3_ASSIGN_OR_RETURN(std::string method, str_arg(a[1], "method", "common"));
  if (method != "common" && method != "ceil" && method != "floor") {
    return make_error("method must be 'common', 'ceil' or 'floor'");
  }
  if (!v.is_number()) return make_error("round() needs a number, not '{}'", type_name(v));
  if (method == "common" && v.is_integral() && precision >= 0) return Value::integer(v.as_int());
  const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -308, 308)));
  const double x = v.as_double() * scale;
  const double r = method == "ceil" ? std::ceil(x) : (method == "floor" ? std::floor(x) : std::nearbyint(x));
  return Value::number(r / scale);
}

Result<Value> f_safe(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("safe", args, {}));
  return v.is_string() ? v : Value::string(to_str(v));  // Markup(value) is a str
}

Result<Value> f_sort(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("sort", args, {"reverse", "case_sensitive", "attribute"}));
  DSV3_ASSIGN_OR_RETURN(auto items, iterate(v));
  const bool cs = bool_arg(a[1], false);
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const Value& item : items) keys.push_back(sort_key(given(a[2]) ? get_path(item, a[2]) : item, cs));
  DSV3_ASSIGN_OR_RETURN(auto out, sorted(std::move(items), keys, bool_arg(a[0], false), budget));
  return Value::list(std::move(out));
}

Result<Value> f_string(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("string", args, {}));
  return Value::string(to_str(v));
}

Result<Value> add_values(const Value& a, const Value& b);  // below

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

Result<Value> f_title(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("title", args, {}));
  return Value::string(title_filter(to_str(v)));
}

// Hugging Face's tojson: json.dumps(x, ensure_ascii=False, indent=indent,
// separators=separators, sort_keys=sort_keys); keys keep their order.
Result<Value> f_tojson(const Value& v, const CallArgs& args, Budget& budget) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("tojson", args, {"indent", "ensure_ascii", "separators", "sort_keys"}));
  JsonStyle style;
  if (given_not_none(a[0])) {
    style.pretty = true;
    style.item_separator = ",";
    if (a[0].is_string()) {
      style.indent = a[0].as_string();
    } else if (a[0].is_integral()) {
      style.indent.assign(static_cast<size_t>(std::clamp<int64_t>(a[0].as_int(), 0, 1000)), ' ');
    } else {
      return make_error("tojson indent must be an integer or string");
    }
  }
  style.ensure_ascii = bool_arg(a[1], false);
  if (given_not_none(a[2])) {
    if (!a[2].is_list() || a[2].as_list().size() != 2 || !a[2].as_list()[0].is_string() ||
        !a[2].as_list()[1].is_string()) {
      return make_error("tojson separators must be a pair of strings");
    }
    style.item_separator = a[2].as_list()[0].as_string();
    style.key_separator = a[2].as_list()[1].as_string();
  }
  style.sort_keys = bool_arg(a[3], false);
  DSV3_ASSIGN_OR_RETURN(std::string out, to_json(v, style));
  DSV3_RETURN_IF_ERROR(budget.string_size(out.size()));
  DSV3_RETURN_IF_ERROR(budget.work(out.size() / 16 + 1));
  return Value::string(std::move(out));
}

Result<Value> f_trim(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("trim", args, {"chars"}));
  DSV3_ASSIGN_OR_RETURN(std::string out, py_strip(to_str(v), a[0], true, true));
  return Value::string(std::move(out));
}

Result<Value> f_truncate(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("truncate", args, {"length", "killwords", "end", "leeway"}));
  DSV3_ASSIGN_OR_RETURN(int64_t length, int_arg(a[0], "length", 255));
  DSV3_ASSIGN_OR_RETURN(std::string end, str_arg(a[2], "end", "..."));
  DSV3_ASSIGN_OR_RETURN(int64_t leeway, int_arg(a[3], "leeway", 5));
  const std::string s = to_str(v);
  const auto starts = utf8_starts(s);
  const auto n = static_cast<int64_t>(starts.size());
  if (n <= length + leeway) return Value::string(s);
  const int64_t keep = std::clamp<int64_t>(length - static_cast<int64_t>(utf8_length(end)), 0, n);
  std::string head = s.substr(0, starts[static_cast<size_t>(keep)]);
  if (!bool_arg(a[1], false)) {
    const size_t sp = head.rfind(' ');
    if (sp != std::string::npos) head.resize(sp);
  }
  return Value::string(head + end);
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

Result<Value> f_wordcount(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("wordcount", args, {}));
  const std::string s = to_str(v);
  int64_t words = 0;
  bool in_word = false;
  for (char c : s) {  // \w+: letters, digits, underscore (any non-ASCII byte counts as a letter)
    const bool w = ascii_alpha(c) || ascii_digit(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
    if (w && !in_word) ++words;
    in_word = w;
  }
  return Value::integer(words);
}

const std::unordered_map<std::string_view, FilterFn>& filters() {
  static const std::unordered_map<std::string_view, FilterFn> table{
      {"abs", f_abs},           {"attr", f_attr},
      {"batch", f_batch},       {"capitalize", f_capitalize},
      {"center", f_center},     {"count", f_length},
      {"d", f_default},         {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},
      {"escape", f_escape},     {"first", f_first},
      {"float", f_float},       {"forceescape", f_escape},
      {"format", f_format},     {"indent", f_indent},
      {"int", f_int},           {"items", f_items},
      {"join", f_join},         {"last", f_last},
      {"length", f_length},     {"list", f_list},
      {"lower", f_lower},       {"map", f_map},
      {"max", f_max},           {"min", f_min},
      {"reject", f_reject},     {"rejectattr", f_rejectattr},
      {"replace", f_replace},   {"reverse", f_reverse},
      {"round", f_round},       {"safe", f_safe},
      {"select", f_select},     {"selectattr", f_selectattr},
      {"sort", f_sort},         {"string", f_string},
      {"sum", f_sum},           {"title", f_title},
      {"tojson", f_tojson},     {"trim", f_trim},
      {"truncate", f_truncate}, {"unique", f_unique},
      {"upper", f_upper},       {"wordcount", f_wordcount},
  };
  return table;
}

// ---- tests ------------------------------------------------------------------------

using TestFn = Result<bool> (*)(const Value&, const CallArgs&);

Result<Value> one_arg(std::string_view name, const CallArgs& args) {
  if (args.positional.size() != 1 || !args.keyword.empty()) {
    return make_error("test '{}' takes exactly one argument", name);
  }
  return args.positional[0];
}

Result<bool> t_defined(const Value& v, const CallArgs&) { return !v.is_undefined(); }
Result<bool> t_undefined(const Value& v, const CallArgs&) { return v.is_undefined(); }
Result<bool> t_none(const Value& v, const CallArgs&) { return v.is_none(); }
Result<bool> t_boolean(const Value& v, const CallArgs&) { return v.kind() == Value::Kind::kBool; }
Result<bool> t_true(const Value& v, const CallArgs&) { return v.kind() == Value::Kind::kBool && v.as_bool(); }
Result<bool> t_false(const Value& v, const CallArgs&) {
  return v.kind() == Value::Kind::kBool && !v.as_bool();
}
Result<bool> t_integer(const Value& v, const CallArgs&) { return v.kind() == Value::Kind::kInt; }
Result<bool> t_float(const Value& v, const CallArgs&) { return v.kind() == Value::Kind::kFloat; }
Result<bool> t_number(const Value& v, const CallArgs&) { return v.is_number(); }
Result<bool> t_string(const Value& v, const CallArgs&) { return v.is_string(); }
Result<bool> t_mapping(const Value& v, const CallArgs&) { return v.is_dict(); }
// Jinja's Undefined defines __call__ (which raises), so callable() is true for it.
Result<bool> t_callable(const Value& v, const CallArgs&) {
  return v.kind() == Value::Kind::kCallable || v.is_undefined();
}
Result<bool> t_escaped(const Value&, const CallArgs&) { return false; }
// Jinja's Undefined supports len() and iteration, so it is a sequence and iterable.
Result<bool> t_iterable(const Value& v, const CallArgs&) {
  return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
// str(value).islower(), as Jinja.
Result<bool> t_lower(const Value& v, const CallArgs&) { return is_all_case(to_str(v), true); }
Result<bool> t_upper(const Value& v, const CallArgs&) { return is_all_case(to_str(v), false); }

Result<bool> divisible(const Value& v, int64_t n, std::string_view what) {
  if (v.is_integral()) {
    if (n == 0) return make_error("integer modulo by zero");
    return v.as_int() % n == 0;
  }
  if (v.is_number()) return std::fmod(v.as_double(), static_cast<double>(n)) == 0.0;
  return make_error("test '{}' needs a number, not '{}'", what, type_name(v));
}
Result<bool> t_even(const Value& v, const CallArgs&) { return divisible(v, 2, "even"); }
Result<bool> t_odd(const Value& v, const CallArgs&) {
  DSV3_ASSIGN_OR_RETURN(bool even, divisible(v, 2, "odd"));
  if (v.kind() == Value::Kind::kFloat && std::fmod(v.as_double(), 1.0) != 0.0) return false;
  return !even;
}
Result<bool> t_divisibleby(const Value& v, const CallArgs& args) {
  DSV3_ASSIGN_OR_RETURN(Value n, one_arg("divisibleby", args));
  if (!n.is_integral()) return make_error("divisibleby needs an integer");
  return divisible(v, n.as_int(), "divisibleby");
}
Result<bool> t_sameas(const Value& v, const CallArgs& args) {
  DSV3_ASSIGN_OR_RETURN(Value o, one_arg("sameas", args));
  if (v.kind() != o.kind()) return false;
  if (v.identity() != nullptr) return v.identity() == o.identity();
  return equals(v, o);
}
Result<bool> t_eq(const Value& v, const CallArgs& args) {
  DSV3_ASSIGN_OR_RETURN(Value o, one_arg("eq", args));
  return equals(v, o);
}
Result<bool> t_ne(const Value& v, const CallArgs& args) {
  DSV3_ASSIGN_OR_RETURN(Value o, one_arg("ne", args));
  return !equals(v, o);
}
Result<bool> order_test(const Value& v, const CallArgs& args, int want_sign, bool or_equal) {
  DSV3_ASSIGN_OR_RETURN(Value o, one_arg("comparison", args));
  DSV3_ASSIGN_OR_RETURN(int c, compare(v, o));
  return c == want_sign || (or_equal && c == 0);
}
Result<bool> t_lt(const Value& v, const CallArgs& a) { return order_test(v, a, -1, false); }
Result<bool> t_le(const Value& v, const CallArgs& a) { return order_test(v, a, -1, true); }
Result<bool> t_gt(const Value& v, const CallArgs& a) { return order_test(v, a, 1, false); }
Result<bool> t_ge(const Value& v, const CallArgs& a) { return order_test(v, a, 1, true); }
Result<bool> t_in(const Value& v, const CallArgs& args) {
  DSV3_ASSIGN_OR_RETURN(Value seq, one_arg("in", args));
  switch (seq.kind()) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!v.is_string())
        return make_error("'in <string>' requires string as left operand, not {}", type_name(v));
      return seq.as_string().find(v.as_string()) != std::string::npos;
    case Value::Kind::kList:
      return std::any_of(seq.as_list().begin(), seq.as_list().end(),
                         [&](const Value& x) { return equals(x, v); });
    case Value::Kind::kDict:
      return v.is_string() && seq.as_dict().find(v.as_string()) != nullptr;
    case Value::Kind::kNamespace:
      return v.is_string() && seq.as_namespace().attrs.find(v.as_string()) != nullptr;
    default:
      return make_error("argument of type '{}' is not iterable", type_name(seq));
  }
}
Result<bool> t_filter(const Value& v, const CallArgs&) {
  return v.is_string() && is_filter_name(v.as_string());
}
Result<bool> t_test(const Value& v, const CallArgs&) { return v.is_string() && is_test_name(v.as_string()); }

const std::unordered_map<std::string_view, TestFn>& tests() {
  static const std::unordered_map<std::string_view, TestFn> table{
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"integer", t_integer},
      {"float", t_float},
      {"number", t_number},
      {"string", t_string},
      {"mapping", t_mapping},
      {"iterable", t_iterable},
      {"sequence", t_iterable},
      {"callable", t_callable},
      {"escaped", t_escaped},
      {"lower", t_lower},
      {"upper", t_upper},
      {"even", t_even},
      {"odd", t_odd},
      {"divisibleby", t_divisibleby},
      {"sameas", t_sameas},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"ne", t_ne},
      {"!=", t_ne},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<", t_lt},
      {"le", t_le},
      {"<=", t_le},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">", t_gt},
      {"ge", t_ge},
      {">=", t_ge},
      {"in", t_in},
      {"filter", t_filter},
      {"test", t_test},
  };
  return table;
}

// ---- methods ----------------------------------------------------------------------

Result<bool> affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) -> Result<bool> {
    if (!a.is_string()) return make_error("startswith/endswith argument must be str or a tuple of str");
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list()) {
    for (const Value& a : affix.as_list()) {
      DSV3_ASSIGN_OR_RETURN(bool hit, one(a));
      if (hit) return true;
    }
    return false;
  }
  return one(affix);
}

// str.format with {} {0} {name} fields (no format specs).
Result<Value> str_format(const std::string& f, const CallArgs& args, Budget& budget) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = f.find('}', i);
    if (close == std::string::npos) return make_error("Single '{{' encountered in format string");
    const std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    if (field.find_first_of(":!") != std::string::npos) return make_error("format specs are not supported");
    const Value* arg = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), ascii_digit)) {
      size_t idx = auto_index++;
      if (!field.empty()) std::from_chars(field.data(), field.data() + field.size(), idx);
      if (idx >= args.positional.size()) return make_error("Replacement index {} out of range", idx);
      arg = &args.positional[idx];
    } else {
      for (const auto& [k, v] : args.keyword) {
        if (k == field) arg = &v;
      }
      if (!arg) return make_error("format: missing argument '{}'", field);
    }
    out += to_str(*arg);
    DSV3_RETURN_IF_ERROR(budget.string_size(out.size()));
  }
  return Value::string(std::move(out));
}

Result<Value> string_method(const std::string& s, std::string_view name, const CallArgs& args,
                            Budget& budget) {
  DSV3_RETURN_IF_ERROR(budget.work(s.size() / 16 + 1));
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"chars"}));
    DSV3_ASSIGN_OR_RETURN(std::string out, py_strip(s, a[0], name != "rstrip", name != "lstrip"));
    return Value::string(std::move(out));
  }
  if (name == "split" || name == "rsplit") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"sep", "maxsplit"}));
    return py_split(s, a[0], a[1], name == "rsplit");
  }
  if (name == "splitlines") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"keepends"}));
    std::vector<Value> out;
    for (auto& line : split_lines(s, bool_arg(a[0], false))) out.push_back(Value::string(std::move(line)));
    return Value::list(std::move(out));
  }
  if (name == "startswith" || name == "endswith") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"affix"}));
    DSV3_ASSIGN_OR_RETURN(bool hit, affix_match(s, a[0], name == "startswith"));
    return Value::boolean(hit);
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {}));
    if (name == "upper") return Value::string(to_upper(s));
    if (name == "lower") return Value::string(to_lower(s));
    if (name == "title") return Value::string(title_method(s));
    return Value::string(capitalize(s));
  }
  if (name == "replace") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"old", "new", "count"}));
    if (!a[0].is_string() || !a[1].is_string()) return make_error("replace() arguments must be strings");
    DSV3_ASSIGN_OR_RETURN(int64_t count, int_arg(a[2], "count", -1));
    DSV3_ASSIGN_OR_RETURN(std::string out, py_replace(s, a[0].as_string(), a[1].as_string(), count, budget));
    return Value::string(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"sub"}));
    if (!a[0].is_string()) return make_error("{}() argument must be a string", name);
    const std::string& sub = a[0].as_string();
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::integer(n);
    }
    const size_t p = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
    if (p == std::string::npos) {
      if (name == "index" || name == "rindex") return make_error("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(cp_index(s, p));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"affix"}));
    if (!a[0].is_string()) return make_error("{}() argument must be a string", name);
    DSV3_ASSIGN_OR_RETURN(bool hit, affix_match(s, a[0], name == "removeprefix"));
    if (!hit) return Value::string(s);
    const size_t n = a[0].as_string().size();
    return Value::string(name == "removeprefix" ? s.substr(n) : s.substr(0, s.size() - n));
  }
  if (name == "join") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"iterable"}));
    DSV3_ASSIGN_OR_RETURN(auto items, iterate(a[0]));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        return make_error("sequence item {}: expected str instance, {} found", i, type_name(items[i]));
      }
      if (i) out += s;
      out += items[i].as_string();
      DSV3_RETURN_IF_ERROR(budget.string_size(out.size()));
    }
    return Value::string(std::move(out));
  }
  if (name == "format") return str_format(s, args, budget);
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric" || name == "isalpha" ||
      name == "isalnum" || name == "isspace" || name == "islower" || name == "isupper") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {}));
    if (name == "islower" || name == "isupper") {
      DSV3_ASSIGN_OR_RETURN(bool cased, (name == "islower" ? t_lower : t_upper)(Value::string(s), args));
      return Value::boolean(cased);
    }
    if (s.empty()) return Value::boolean(false);
    bool all = true;
    for (size_t i = 0; i < s.size() && all;) {
      size_t len = 1;
      const uint32_t cp = utf8_decode(s, i, &len);
      i += len;
      const bool digit = cp >= '0' && cp <= '9';
      const bool alpha = (cp < 0x80 && ascii_alpha(static_cast<char>(cp))) || cp >= 0x80;
      if (name == "isspace") {
        all = is_py_space(cp);
      } else if (name == "isalpha") {
        all = alpha;
      } else if (name == "isalnum") {
        all = alpha || digit;
      } else {
        all = digit;
      }
    }
    return Value::boolean(all);
  }
  return make_error("'str' object has no method '{}'", name);
}

Result<Value> dict_method(const Dict& d, std::string_view name, const CallArgs& args, Budget& budget) {
  DSV3_RETURN_IF_ERROR(budget.work(d.size() + 1));
  if (name == "items") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {}));
    return pairs_of(d);
  }
  if (name == "keys" || name == "values") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {}));
    std::vector<Value> out;
    out.reserve(d.size());
    for (const auto& [key, value] : d.entries()) out.push_back(name == "keys" ? Value::string(key) : value);
    return Value::list(std::move(out));
  }
  if (name == "get") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"key", "default"}));
    const Value* v = a[0].is_string() ? d.find(a[0].as_string()) : nullptr;
    if (v) return *v;
    return given(a[1]) ? a[1] : Value::none();
  }
  return make_error("'dict' object has no method '{}'", name);
}

Result<Value> list_method(const Value& list, std::string_view name, const CallArgs& args, Budget& budget) {
  const auto& items = list.as_list();
  DSV3_RETURN_IF_ERROR(budget.work(items.size() + 1));
  if (name == "index" || name == "count") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {"value"}));
    int64_t n = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!equals(items[i], a[0])) continue;
      if (name == "index") return Value::integer(static_cast<int64_t>(i));
      ++n;
    }
    if (name == "index") return make_error("{} is not in list", repr(a[0]));
    return Value::integer(n);
  }
  static constexpr std::string_view kMutators[] = {"append", "extend", "insert", "pop",
                                                   "remove", "clear",  "sort",   "reverse"};
  if (std::find(std::begin(kMutators), std::end(kMutators), name) != std::end(kMutators)) {
    return make_error("lists are immutable in templates ('{}' is not allowed)", name);
  }
  return make_error("'{}' object has no method '{}'", type_name(list), name);
}

Result<Value> add_values(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral()) {
    int64_t r = 0;
    if (!__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return Value::integer(r);
  }
  return Value::number(a.as_double() + b.as_double());
}

}  // namespace

// ---- public entry points ----------------------------------------------------------

bool is_filter_name(std::string_view name) { return filters().count(name) != 0; }
bool is_test_name(std::string_view name) { return tests().count(name) != 0; }

const std::vector<std::string_view>& global_names() {
  static const std::vector<std::string_view> names{"range", "namespace", "dict", "raise_exception",
                                                   "strftime_now"};
  return names;
}

Result<Value> apply_filter(std::string_view name, const Value& value, const CallArgs& args, Budget& budget) {
  auto it = filters().find(name);
  if (it == filters().end()) return make_error("unknown filter '{}'", name);
  DSV3_RETURN_IF_ERROR(budget.work(1));
  return it->second(value, args, budget);
}

Result<bool> apply_test(std::string_view name, const Value& value, const CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) return make_error("unknown test '{}'", name);
  return it->second(value, args);
}

Result<Value> call_method(const Value& self, std::string_view name, const CallArgs& args, Budget& budget) {
  switch (self.kind()) {
    case Value::Kind::kString:
      return string_method(self.as_string(), name, args, budget);
    case Value::Kind::kDict:
      return dict_method(self.as_dict(), name, args, budget);
    case Value::Kind::kList:
      return list_method(self, name, args, budget);
    case Value::Kind::kUndefined:
      if (!self.undefined_name().empty()) {
        return make_error("'{}' is undefined (calling its method '{}')", self.undefined_name(), name);
      }
      return make_error("cannot call method '{}' of an undefined value", name);
    default:
      return make_error("'{}' object has no method '{}'", type_name(self), name);
  }
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

namespace {

Value loop_attr(const LoopInfo& loop, std::string_view name) {
  const int64_t i = loop.index0;
  const auto n = static_cast<int64_t>(loop.items.size());
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(1);
  if (name == "depth0") return Value::integer(0);
  if (name == "previtem" && i > 0) return loop.items[static_cast<size_t>(i - 1)];
  if (name == "nextitem" && i + 1 < n) return loop.items[static_cast<size_t>(i + 1)];
  if (name == "cycle") return Value::callable(Callable{"loop.cycle", nullptr, i});
  return Value::undefined(std::string(name));
}

}  // namespace

Value get_attr(const Value& obj, std::string_view name) {
  if (obj.kind() == Value::Kind::kLoop) return loop_attr(obj.as_loop(), name);
  const Value* v = nullptr;
  if (obj.is_dict()) v = obj.as_dict().find(name);
  if (obj.kind() == Value::Kind::kNamespace) v = obj.as_namespace().attrs.find(name);
  return v ? *v : Value::undefined(std::string(name));
}

Value get_item(const Value& obj, const Value& key) {
  if (key.is_string() &&
      (obj.is_dict() || obj.kind() == Value::Kind::kNamespace || obj.kind() == Value::Kind::kLoop)) {
    return get_attr(obj, key.as_string());
  }
  if (key.is_integral()) {
    int64_t i = key.as_int();
    if (obj.is_dict()) return get_attr(obj, std::to_string(i));
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.as_list().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.as_list()[static_cast<size_t>(i)];
    } else if (obj.is_string()) {
      const std::string& s = obj.as_string();
      const auto starts = utf8_starts(s);
      const auto n = static_cast<int64_t>(starts.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) {
        const size_t b = starts[static_cast<size_t>(i)];
        const size_t e = i + 1 < n ? starts[static_cast<size_t>(i + 1)] : s.size();
        return Value::string(s.substr(b, e - b));
      }
    }
  }
  return Value::undefined(key.is_string() ? key.as_string() : std::string());
}

Result<std::vector<Value>> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return std::vector<Value>{};
    case Value::Kind::kList:
      return v.as_list();
    case Value::Kind::kString:
      return chars_of(v.as_string()).as_list();
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      keys.reserve(v.as_dict().size());
      for (const auto& [key, value] : v.as_dict().entries()) keys.push_back(Value::string(key));
      return keys;
    }
    default:
      return make_error("'{}' object is not iterable", type_name(v));
  }
}

}  // namespace dsv3::text::jinja
