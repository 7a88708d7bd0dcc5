#include "jinja/budget.h"

namespace dsv3::jinja {

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

}  // namespace dsv3::jinja
