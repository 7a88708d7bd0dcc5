// Reads a whole (small) file: configs, indexes, tokenizer files.
#pragma once
#include <string>

#include "base/status.h"

namespace dsv3 {

// The file's bytes, or an error "PATH: cannot open".
Result<std::string> read_file(const std::string& path);

}  // namespace dsv3
