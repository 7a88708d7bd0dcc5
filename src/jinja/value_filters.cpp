// Filters that take a value of any kind: default, attr, tojson.
#include <algorithm>

#include "jinja/access.h"
#include "jinja/filter_table.h"
#include "jinja/json.h"

namespace dsv3::jinja {
namespace {

Result<Value> f_attr(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("attr", args, {"name"}));
  DSV3_ASSIGN_OR_RETURN(std::string name, str_arg(a[0], "attr name", ""));
  return get_attr(v, name);
}

Result<Value> f_default(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("default", args, {"default_value", "boolean"}));
  const bool boolean = bool_arg(a[1], false);
  if (v.is_undefined() || (boolean && !truthy(v))) return given(a[0]) ? a[0] : Value::string("");
  return v;
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

}  // namespace

void add_value_filters(FilterTable& table) {
  table.insert({{"attr", f_attr}, {"d", f_default}, {"default", f_default}, {"tojson", f_tojson}});
}

}  // namespace dsv3::jinja
