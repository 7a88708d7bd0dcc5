#include "jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace dsv3::jinja {

// ---- Value ----------------------------------------------------------------

Value::Value() : v_(Undef{}) {}

Value Value::undefined(std::string name) {
  Value v;
  if (!name.empty()) v.v_ = Undef{std::make_shared<const std::string>(std::move(name))};
  return v;
}

Value Value::none() {
  Value v;
  v.v_ = nullptr;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.v_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.v_ = i;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.v_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.v_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

namespace {

std::shared_ptr<ListData> make_list(std::vector<Value> items) {
  auto data = std::make_shared<ListData>();
  int depth = 0;
  bool has_ns = false;
  for (const Value& item : items) {
    depth = std::max(depth, item.depth());
    has_ns = has_ns || item.has_namespace();
  }
  data->items = std::move(items);
  data->depth = depth + 1;
  data->has_namespace = has_ns;
  return data;
}

}  // namespace

Value Value::list(std::vector<Value> items, bool tuple) {
  auto data = make_list(std::move(items));
  data->tuple = tuple;
  Value v;
  v.v_ = ListPtr(std::move(data));
  return v;
}

Value Value::lazy_list(std::vector<Value> items) {
  auto data = make_list(std::move(items));
  data->lazy = true;
  Value v;
  v.v_ = ListPtr(std::move(data));
  return v;
}

Value Value::dict(Dict d) {
  auto data = std::make_shared<DictData>();
  int depth = 0;
  bool has_ns = false;
  for (const auto& [key, item] : d.entries()) {
    depth = std::max(depth, item.depth());
    has_ns = has_ns || item.has_namespace();
  }
  data->dict = std::move(d);
  data->depth = depth + 1;
  data->has_namespace = has_ns;
  Value v;
  v.v_ = DictPtr(std::move(data));
  return v;
}

Value Value::loop(std::shared_ptr<LoopInfo> info) {
  Value v;
  v.v_ = LoopPtr(std::move(info));
  return v;
}

Value Value::namespace_object(std::shared_ptr<Namespace> ns) {
  Value v;
  v.v_ = std::move(ns);
  return v;
}

Value Value::callable(Callable c) {
  Value v;
  v.v_ = std::make_shared<const Callable>(std::move(c));
  return v;
}

int64_t Value::as_int() const {
  if (kind() == Kind::kBool) return as_bool() ? 1 : 0;
  return std::get<int64_t>(v_);
}

double Value::as_double() const {
  if (kind() == Kind::kFloat) return std::get<double>(v_);
  return static_cast<double>(as_int());
}

const Dict& Value::as_dict() const { return std::get<DictPtr>(v_)->dict; }

const std::string& Value::undefined_name() const {
  static const std::string kEmpty;
  const auto& name = std::get<Undef>(v_).name;
  return name ? *name : kEmpty;
}

const void* Value::identity() const {
  switch (kind()) {
    case Kind::kString:
      return std::get<StringPtr>(v_).get();
    case Kind::kList:
      return std::get<ListPtr>(v_).get();
    case Kind::kDict:
      return std::get<DictPtr>(v_).get();
    case Kind::kNamespace:
      return std::get<NamespacePtr>(v_).get();
    case Kind::kCallable:
      return std::get<CallablePtr>(v_).get();
    case Kind::kLoop:
      return std::get<LoopPtr>(v_).get();
    default:
      return nullptr;
  }
}

int Value::depth() const {
  switch (kind()) {
    case Kind::kList:
      return std::get<ListPtr>(v_)->depth;
    case Kind::kDict:
      return std::get<DictPtr>(v_)->depth;
    case Kind::kNamespace: {
      int depth = 0;
      for (const auto& [key, item] : as_namespace().attrs.entries()) {
        depth = std::max(depth, item.depth());
      }
      return depth + 1;
    }
    default:
      return 0;
  }
}

bool Value::has_namespace() const {
  switch (kind()) {
    case Kind::kList:
      return std::get<ListPtr>(v_)->has_namespace;
    case Kind::kDict:
      return std::get<DictPtr>(v_)->has_namespace;
    case Kind::kNamespace:
    case Kind::kLoop:  // its items may hold namespaces
      return true;
    default:
      return false;
  }
}

// ---- Dict -----------------------------------------------------------------

const Value* Dict::find(std::string_view key) const {
  if (entries_.size() <= kIndexThreshold) {
    for (const Entry& e : entries_) {
      if (e.first == key) return &e.second;
    }
    return nullptr;
  }
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Dict::set(std::string key, Value value) {
  if (entries_.size() <= kIndexThreshold) {
    for (Entry& e : entries_) {
      if (e.first == key) {
        e.second = std::move(value);
        return;
      }
    }
  } else if (auto it = index_.find(key); it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  entries_.emplace_back(std::move(key), std::move(value));
  if (entries_.size() == kIndexThreshold + 1) {
    for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  } else if (entries_.size() > kIndexThreshold + 1) {
    index_.emplace(entries_.back().first, entries_.size() - 1);
  }
}

// ---- printing -------------------------------------------------------------

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.remove_prefix(1);
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exp10);
  // Python's repr: digits d1d2... with the decimal point after `decpt` digits;
  // scientific notation when decpt is outside (-4, 16].
  const int decpt = exp10 + 1;
  std::string out = sign;
  if (decpt > 16 || decpt <= -4) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    const int x = decpt - 1;
    out += fmt::format("e{}{:02d}", x < 0 ? '-' : '+', std::abs(x));
  } else if (decpt <= 0) {
    out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(decpt) - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
  }
  return out;
}

namespace {

std::string repr_string(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

}  // namespace

std::string repr(const Value& v) {
  using K = Value::Kind;
  switch (v.kind()) {
    case K::kString:
      return repr_string(v.as_string());
    case K::kUndefined:
      return "Undefined";
    default:
      return to_str(v);
  }
}

std::string to_str(const Value& v) {
  using K = Value::Kind;
  switch (v.kind()) {
    case K::kUndefined:
      return "";
    case K::kNone:
      return "None";
    case K::kBool:
      return v.as_bool() ? "True" : "False";
    case K::kInt:
      return std::to_string(v.as_int());
    case K::kFloat:
      return format_float(v.as_double());
    case K::kString:
      return v.as_string();
    case K::kList: {
      const bool tuple = v.is_tuple();
      std::string out = tuple ? "(" : "[";
      const auto& items = v.as_list();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += repr(items[i]);
      }
      if (tuple && items.size() == 1) out += ",";
      out += tuple ? ")" : "]";
      return out;
    }
    case K::kDict:
    case K::kNamespace: {
      const Dict& d = v.kind() == K::kDict ? v.as_dict() : v.as_namespace().attrs;
      std::string out = v.kind() == K::kDict ? "{" : "<Namespace {";
      bool first = true;
      for (const auto& [key, item] : d.entries()) {
        if (!first) out += ", ";
        first = false;
        out += repr_string(key) + ": " + repr(item);
      }
      out += v.kind() == K::kDict ? "}" : "}>";
      return out;
    }
    case K::kCallable:
      return "<function " + v.as_callable().name + ">";
    case K::kLoop:
      return fmt::format("<LoopContext {}/{}>", v.as_loop().index0 + 1, v.as_loop().items.size());
  }
  return "";
}

std::string_view type_name(const Value& v) {
  using K = Value::Kind;
  switch (v.kind()) {
    case K::kUndefined:
      return "Undefined";
    case K::kNone:
      return "NoneType";
    case K::kBool:
      return "bool";
    case K::kInt:
      return "int";
    case K::kFloat:
      return "float";
    case K::kString:
      return "str";
    case K::kList:
      return v.is_tuple() ? "tuple" : "list";
    case K::kDict:
      return "dict";
    case K::kNamespace:
      return "Namespace";
    case K::kCallable:
      return "function";
    case K::kLoop:
      return "LoopContext";
  }
  return "object";
}

bool truthy(const Value& v) {
  using K = Value::Kind;
  switch (v.kind()) {
    case K::kUndefined:
    case K::kNone:
      return false;
    case K::kBool:
      return v.as_bool();
    case K::kInt:
      return v.as_int() != 0;
    case K::kFloat:
      return v.as_double() != 0.0;
    case K::kString:
      return !v.as_string().empty();
    case K::kList:
      return v.is_lazy() || !v.as_list().empty();
    case K::kDict:
      return !v.as_dict().empty();
    case K::kNamespace:
    case K::kCallable:
    case K::kLoop:
      return true;
  }
  return false;
}

// ---- equality and ordering --------------------------------------------------

bool equals(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::kUndefined:
    case K::kNone:
      return true;
    case K::kString:
      return a.as_string() == b.as_string();
    case K::kList: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case K::kDict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [key, item] : x.entries()) {
        const Value* other = y.find(key);
        if (!other || !equals(item, *other)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

Result<int> compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) {
      return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    }
    const double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order is code point order, which is what Python compares.
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return make_error("cannot compare '{}' with '{}'", type_name(a), type_name(b));
}

}  // namespace dsv3::jinja
