// The values a Jinja template computes with: JSON data plus Jinja's undefined,
// namespace objects and callables, with Python's printing, equality and
// ordering rules (templates are written against Python's semantics).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"

namespace dsv3::jinja {

struct Stmt;
class Value;
class Dict;
struct Namespace;

// A macro defined in a template, or a built-in function by name ("range",
// "loop.cycle", ...). `bound` carries loop.index0 for loop.cycle.
struct Callable {
  std::string name;
  const Stmt* macro = nullptr;  // owned by the parsed template, which outlives renders
  int64_t bound = 0;
};

// Immutable list storage. `depth` and `has_namespace` are computed once so
// that nesting limits and namespace-cycle checks are O(1).
struct ListData {
  std::vector<Value> items;
  bool tuple = false;  // only changes how it prints: (1, 2) instead of [1, 2]
  // The result of a filter that Jinja implements as a generator (map, select,
  // ...): like Python's generators it is truthy even when empty.
  bool lazy = false;
  int depth = 1;
  bool has_namespace = false;
};

struct DictData;
struct LoopInfo;

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kNamespace,
    kCallable,
    kLoop
  };

  Value();  // undefined
  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(std::vector<Value> items, bool tuple = false);
  static Value lazy_list(std::vector<Value> items);
  static Value dict(Dict d);
  static Value namespace_object(std::shared_ptr<Namespace> ns);
  static Value callable(Callable c);
  static Value loop(std::shared_ptr<LoopInfo> info);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_integral() const { return kind() == Kind::kInt || kind() == Kind::kBool; }
  // Python's numbers.Number: bool, int and float.
  bool is_number() const { return is_integral() || kind() == Kind::kFloat; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const;    // bool or int
  double as_double() const;  // bool, int or float
  const std::string& as_string() const { return *std::get<StringPtr>(v_); }
  const std::vector<Value>& as_list() const { return std::get<ListPtr>(v_)->items; }
  bool is_tuple() const { return std::get<ListPtr>(v_)->tuple; }
  bool is_lazy() const { return std::get<ListPtr>(v_)->lazy; }
  const Dict& as_dict() const;
  Namespace& as_namespace() const { return *std::get<NamespacePtr>(v_); }
  const Callable& as_callable() const { return *std::get<CallablePtr>(v_); }
  const LoopInfo& as_loop() const { return *std::get<LoopPtr>(v_); }
  // The variable or attribute name an undefined value came from ("" if none).
  const std::string& undefined_name() const;
  // Identity of a container (for the `sameas` test); null for scalars.
  const void* identity() const;

  // Container nesting depth (0 for scalars; a namespace counts its attributes).
  int depth() const;
  // Whether a namespace (or a loop object, whose items may hold one) is
  // reachable from this value.
  bool has_namespace() const;

 private:
  struct Undef {
    std::shared_ptr<const std::string> name;
  };
  using StringPtr = std::shared_ptr<const std::string>;  // shared: copies are O(1)
  using ListPtr = std::shared_ptr<const ListData>;
  using DictPtr = std::shared_ptr<const DictData>;
  using NamespacePtr = std::shared_ptr<Namespace>;  // the one mutable kind
  using CallablePtr = std::shared_ptr<const Callable>;
  using LoopPtr = std::shared_ptr<const LoopInfo>;
  std::variant<Undef, std::nullptr_t, bool, int64_t, double, StringPtr, ListPtr, DictPtr, NamespacePtr,
               CallablePtr, LoopPtr>
      v_;
};

// An insertion-ordered string-keyed map (Python dicts keep insertion order,
// and tojson must reproduce it).
class Dict {
 public:
  using Entry = std::pair<std::string, Value>;
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);  // replaces in place or appends
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  static constexpr size_t kIndexThreshold = 16;  // linear search below this size
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

struct DictData {
  Dict dict;
  int depth = 1;
  bool has_namespace = false;
};

// Jinja's namespace(): the only object a template can mutate (`set ns.x = ...`).
// It never holds another namespace, so namespaces cannot form cycles.
struct Namespace {
  Dict attrs;
};

// Jinja's `loop` object. Like Jinja's LoopContext it is one object per for
// loop that advances in place, so an iteration costs no allocation.
struct LoopInfo {
  std::vector<Value> items;
  int64_t index0 = 0;
};

// Python truthiness; undefined is falsy.
bool truthy(const Value& v);
// What `{{ v }}` prints: str() in Python, "" for undefined.
std::string to_str(const Value& v);
// Python's repr(), used for items inside printed lists and dicts.
std::string repr(const Value& v);
// Python's float repr: shortest round-trip digits, "1.0", "1e+16", "1e-05".
std::string format_float(double d);
// Python's type name, for error messages.
std::string_view type_name(const Value& v);
// Python ==: 1 == 1.0 == True, deep for lists and dicts.
bool equals(const Value& a, const Value& b);
// Python ordering for <, sort, min, max: numbers, strings, lists; an Error
// for other combinations. Returns <0, 0 or >0.
Result<int> compare(const Value& a, const Value& b);

}  // namespace dsv3::jinja
