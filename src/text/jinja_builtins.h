// Jinja's built-in filters, tests and globals, Python's str/dict methods that
// templates call, and the resource budget every render is held to.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja.h"
#include "text/jinja_value.h"

namespace dsv3::text::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Bounds one render: time (work units, loop iterations) and memory (string
// and list sizes), so hostile templates fail fast instead of hanging.
class Budget {
 public:
  explicit Budget(const Limits& limits) : limits_(limits) {}
  const Limits& limits() const { return limits_; }
  Status work(uint64_t units);
  // Like work(), but only says whether the budget still holds (no Error built).
  bool spend(uint64_t units) {
    work_ += units;
    return work_ <= limits_.max_work;
  }
  Status iteration();
  Status string_size(size_t bytes) const;
  Status list_size(size_t items) const;

 private:
  Limits limits_;
  uint64_t work_ = 0;
  uint64_t iterations_ = 0;
};

// Names known at parse time, so a typo fails there (as Jinja's compiler does).
bool is_filter_name(std::string_view name);
bool is_test_name(std::string_view name);
// Global functions: range, namespace, dict, raise_exception, strftime_now.
const std::vector<std::string_view>& global_names();

// Errors from these carry no position; the caller adds it.
Result<Value> apply_filter(std::string_view name, const Value& value, const CallArgs& args, Budget& budget);
Result<bool> apply_test(std::string_view name, const Value& value, const CallArgs& args);
Result<Value> call_method(const Value& self, std::string_view name, const CallArgs& args, Budget& budget);
Result<Value> call_global(const Callable& fn, const CallArgs& args, Budget& budget);

// `obj.name` and `obj[key]`: missing members are undefined, never errors.
Value get_attr(const Value& obj, std::string_view name);
Value get_item(const Value& obj, const Value& key);
// What a for loop visits: list items, dict keys, string characters;
// nothing for undefined; an Error for other kinds.
Result<std::vector<Value>> iterate(const Value& v);

}  // namespace dsv3::text::jinja
