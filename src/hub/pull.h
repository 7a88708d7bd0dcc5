// `dsv3 pull`: a repository's files at a revision into the hub cache, each
// downloaded once, resumed after a cut connection, checked for its size and
// (LFS files) its sha256 before it gets its name in blobs/.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "hub/hub_client.h"

namespace dsv3::hub {

struct PullOptions {
  std::string repo;
  std::string revision = "main";
  std::vector<std::string> include;  // shell patterns over file paths; empty: every file
  int attempts = 5;                  // per file, resuming each time
};

// What a pull is doing, for a progress display.
struct PullProgress {
  std::string file;
  int64_t file_done = 0, file_size = 0;
  int64_t total_done = 0, total_size = 0;
  int index = 0, count = 0;
};

// The files a GGUF quant needs: "Q4_K_M" -> every *.gguf whose name holds
// it (any case), split parts included.
std::vector<std::string> gguf_quant_patterns(const std::string& quant);

// Pulls into the cache at root; returns the snapshot directory. Offline
// (HF_HUB_OFFLINE): the cached snapshot, or an error saying it is missing.
Result<std::filesystem::path> pull(const HubOptions& hub, const std::filesystem::path& root, const PullOptions& o,
                                   const std::function<void(const PullProgress&)>& progress = nullptr);

}  // namespace dsv3::hub
