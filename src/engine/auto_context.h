// serve's --ctx 0 ("auto"): the longest context the model's positions, the
// free memory and a sane cap allow for every sequence's cache at once.
#pragma once
#include <cstdint>

namespace dsv3 {

inline constexpr int64_t kAutoContextCap = 32768;  // past it, a deliberate --ctx
inline constexpr int64_t kMinContext = 16;         // serve's smallest --ctx

// min(max_positions (<= 0: unknown), free_bytes / (sequences * cache_bytes_per_token), kAutoContextCap),
// at least kMinContext. free_bytes < 0: unknown (not a limit).
int64_t auto_context(int64_t max_positions, int64_t free_bytes, int64_t sequences, int64_t cache_bytes_per_token);

}  // namespace dsv3
