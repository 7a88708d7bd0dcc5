#include "engine/auto_context.h"

#include <algorithm>

namespace dsv3 {

int64_t auto_context(int64_t max_positions, int64_t free_bytes, int64_t sequences, int64_t cache_bytes_per_token) {
  int64_t ctx = kAutoContextCap;
  if (max_positions > 0) ctx = std::min(ctx, max_positions);
  const int64_t per_position = std::max<int64_t>(1, sequences) * std::max<int64_t>(1, cache_bytes_per_token);
  if (free_bytes >= 0) ctx = std::min(ctx, free_bytes / per_position);
  // the caches cannot fit at all: the smallest context, and the allocation will say so
  return std::max(ctx, kMinContext);
}

}  // namespace dsv3
