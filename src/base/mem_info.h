// Memory the system can still give this process: /proc/meminfo's
// MemAvailable, for sizing caches to what fits (serve's automatic --ctx).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dsv3 {

// MemAvailable of a /proc/meminfo text, in bytes; an error if absent or malformed.
Result<int64_t> parse_mem_available(std::string_view meminfo);
// The same read from `path` (default: this system's).
Result<int64_t> mem_available_bytes(const std::string& path = "/proc/meminfo");

}  // namespace dsv3
