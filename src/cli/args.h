// Small parsers for command-line values, returning errors that name the flag.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsv3::cli {

// "0,5,9" -> {0, 5, 9}. Spaces allowed; empty items and non-integers are errors.
Result<std::vector<int32_t>> parse_ids(const std::string& text, const std::string& flag);

}  // namespace dsv3::cli
