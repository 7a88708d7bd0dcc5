#include "jinja/tests.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "jinja/filters.h"
#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

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

}  // namespace

bool is_test_name(std::string_view name) { return tests().count(name) != 0; }

Result<bool> apply_test(std::string_view name, const Value& value, const CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) return make_error("unknown test '{}'", name);
  return it->second(value, args);
}

}  // namespace dsv3::jinja
