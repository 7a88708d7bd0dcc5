// The hub's file list (GET /api/models/.../revision/...): any bytes either
// parse into files with safe relative paths, sizes and hex blob ids, or give
// an error.
#include "fuzz_main.h"
#include "hub/hub_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = dsv3::hub::parse_repo_info(std::string(dsv3::fuzz::as_text(data, size)), "fuzz/repo");
  if (info.ok()) {
    for (const auto& f : info->files) {
      if (f.path.empty() || f.path[0] == '/' || f.path.find("..") != std::string::npos || f.size < 0 || f.etag.empty())
        __builtin_trap();  // the parser let an unsafe entry through
    }
  }
  return 0;
}
