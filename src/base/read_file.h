// Reads a whole (small) file: configs, indexes, tokenizer files.
#pragma once
#include <string>

#include "base/status.h"

namespace dsv3 {

// The file's bytes, or an error "PATH: cannot open". Pipes are read to their
// end (a shell's process substitution passes one for --messages <(...)).
Result<std::string> read_file(const std::string& path);

// The bytes of a regular file, or an error naming the path; anything else (a
// FIFO, a device, a directory) is refused as "PATH: not a regular file" at
// once, never waited on. For the files of a model directory, which come from
// anywhere and must not hang a loader.
Result<std::string> read_regular_file(const std::string& path);

}  // namespace dsv3
