// Filters that transform text: case, padding, escaping, formatting, trimming.
#include <algorithm>
#include <cmath>

#include "jinja/filter_table.h"
#include "jinja/py_string.h"
#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

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

Result<Value> f_escape(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("escape", args, {}));
  return Value::string(html_escape(to_str(v)));
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

Result<Value> f_lower(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("lower", args, {}));
  return Value::string(to_lower(to_str(v)));
}

Result<Value> f_upper(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("upper", args, {}));
  return Value::string(to_upper(to_str(v)));
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

Result<Value> f_safe(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("safe", args, {}));
  return v.is_string() ? v : Value::string(to_str(v));  // Markup(value) is a str
}

Result<Value> f_string(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("string", args, {}));
  return Value::string(to_str(v));
}

Result<Value> f_title(const Value& v, const CallArgs& args, Budget&) {
  DSV3_ASSIGN_OR_RETURN(auto a, bind("title", args, {}));
  return Value::string(title_filter(to_str(v)));
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

}  // namespace

void add_string_filters(FilterTable& table) {
  table.insert({{"capitalize", f_capitalize}, {"center", f_center}, {"e", f_escape}, {"escape", f_escape},
                {"forceescape", f_escape}, {"format", f_format}, {"indent", f_indent}, {"lower", f_lower},
                {"replace", f_replace}, {"safe", f_safe}, {"string", f_string}, {"title", f_title},
                {"trim", f_trim}, {"truncate", f_truncate}, {"upper", f_upper}, {"wordcount", f_wordcount}});
}

}  // namespace dsv3::jinja
