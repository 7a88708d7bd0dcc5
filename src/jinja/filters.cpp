#include "jinja/filters.h"

#include "jinja/filter_table.h"

namespace dsv3::jinja {
namespace {

// Each group of filters registers itself from its own file.
const FilterTable& filters() {
  static const FilterTable table = [] {
    FilterTable t;
    add_value_filters(t);
    add_string_filters(t);
    add_number_filters(t);
    add_sequence_filters(t);
    return t;
  }();
  return table;
}

}  // namespace

bool is_filter_name(std::string_view name) { return filters().count(name) != 0; }

Result<Value> apply_filter(std::string_view name, const Value& value, const CallArgs& args, Budget& budget) {
  auto it = filters().find(name);
  if (it == filters().end()) return make_error("unknown filter '{}'", name);
  DSV3_RETURN_IF_ERROR(budget.work(1));
  return it->second(value, args, budget);
}

}  // namespace dsv3::jinja
