// How much of some mapped files this process has in its page tables (the
// Rss of their mappings in /proc/self/smaps): what a rank of a split job
// actually touched of a checkpoint, to check against what it meant to read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsv3 {

// Sum of Rss over this process's mappings of `paths` (compared as given and
// as canonical paths); an error where /proc/self/smaps cannot be read.
Result<int64_t> resident_bytes_of(const std::vector<std::string>& paths);

}  // namespace dsv3
