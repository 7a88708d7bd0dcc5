#include "engine/token_ids.h"

#include <algorithm>

namespace dsv3 {

Status check_token_ids(std::span<const int32_t> ids, int64_t vocab) {
  for (int32_t id : ids)
    if (id < 0 || id >= vocab) return make_error("token id {} is out of range [0, {})", id, vocab);
  return {};
}

int64_t reusable_prefix(std::span<const int32_t> held, std::span<const int32_t> prompt) {
  const int64_t limit = std::min<int64_t>(static_cast<int64_t>(held.size()), static_cast<int64_t>(prompt.size()) - 1);
  int64_t k = 0;
  while (k < limit && held[k] == prompt[k]) ++k;
  return k;
}

}  // namespace dsv3
