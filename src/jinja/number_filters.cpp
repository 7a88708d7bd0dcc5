// Filters on numbers and conversions to numbers: abs, int, float, round
// (with Python's parsing of numbers written as strings).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>

#include "jinja/filter_table.h"
#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

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

}  // namespace

void add_number_filters(FilterTable& table) {
  table.insert({{"abs", f_abs}, {"float", f_float}, {"int", f_int}, {"round", f_round}});
}

}  // namespace dsv3::jinja
