// Python's str methods that templates call (`s.strip()`, `s.split(',')`, ...).
#include <algorithm>
#include <charconv>

#include "jinja/access.h"
#include "jinja/methods.h"
#include "jinja/py_string.h"
#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

// Python's str.ljust / rjust / center (width in code points, one fill
// character) and zfill (zeros after a leading sign).
Result<Value> py_pad(std::string_view name, const std::string& s, const CallArgs& args, Budget& budget) {
  const bool zfill = name == "zfill";
  DSV3_ASSIGN_OR_RETURN(auto a, zfill ? bind(name, args, {"width"}) : bind(name, args, {"width", "fillchar"}));
  if (!a[0].is_integral()) return make_error("{}() width must be an integer", name);
  const int64_t width = a[0].as_int();
  std::string fill = " ";
  if (zfill) {
    fill = "0";
  } else if (given(a[1])) {
    if (!a[1].is_string() || utf8_length(a[1].as_string()) != 1)
      return make_error("The fill character must be exactly one character long");
    fill = a[1].as_string();
  }
  const auto len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return Value::string(s);
  const int64_t marg = width - len;
  DSV3_RETURN_IF_ERROR(budget.string_size(static_cast<size_t>(marg)));  // first, so the product below cannot overflow
  DSV3_RETURN_IF_ERROR(budget.string_size(static_cast<size_t>(marg) * fill.size() + s.size()));
  auto repeat = [&](int64_t n) {
    std::string r;
    for (int64_t i = 0; i < n; ++i) r += fill;
    return r;
  };
  if (name == "ljust") return Value::string(s + repeat(marg));
  if (name == "rjust") return Value::string(repeat(marg) + s);
  if (zfill) {
    const size_t sign = !s.empty() && (s[0] == '+' || s[0] == '-') ? 1 : 0;
    return Value::string(s.substr(0, sign) + repeat(marg) + s.substr(sign));
  }
  const int64_t left = marg / 2 + (marg & width & 1);  // CPython's rounding
  return Value::string(repeat(left) + s + repeat(marg - left));
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

// Code point index of the byte offset `b` in s.
int64_t cp_index(const std::string& s, size_t b) {
  return static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, b)));
}

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

}  // namespace

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
  if (name == "ljust" || name == "rjust" || name == "center" || name == "zfill") return py_pad(name, s, args, budget);
  if (name == "format") return str_format(s, args, budget);
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric" || name == "isalpha" ||
      name == "isalnum" || name == "isspace" || name == "islower" || name == "isupper") {
    DSV3_ASSIGN_OR_RETURN(auto a, bind(name, args, {}));
    if (name == "islower" || name == "isupper") return Value::boolean(is_all_case(s, name == "islower"));
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

}  // namespace dsv3::jinja
