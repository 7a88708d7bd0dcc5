// Where Hugging Face's hub cache keeps a repository, as huggingface_hub lays
// it out, so files downloaded by dsv3 and by Python tools are shared:
//   $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
//     models--ORG--NAME/
//       blobs/<etag>              the files' bytes (sha256 for LFS files, git blob id otherwise)
//       snapshots/<commit>/<path> relative links into blobs
//       refs/<revision>           the commit a branch or tag pointed at
#pragma once
#include <filesystem>
#include <string>

#include "base/status.h"

namespace dsv3::hub {

// The cache root from the environment.
std::filesystem::path cache_root();

// "ORG/NAME" (letters, digits, '-', '_', '.'); an error naming what is wrong.
Status check_repo_id(const std::string& repo);

struct RepoCache {
  std::filesystem::path dir;  // .../models--ORG--NAME
  std::filesystem::path blob(const std::string& etag) const { return dir / "blobs" / etag; }
  std::filesystem::path snapshot(const std::string& commit) const { return dir / "snapshots" / commit; }
  std::filesystem::path ref(const std::string& revision) const { return dir / "refs" / revision; }
};
RepoCache repo_cache(const std::filesystem::path& root, const std::string& repo);

// The snapshot directory `revision` (a branch, tag or commit) resolves to in
// the cache, if it is there.
Result<std::filesystem::path> cached_snapshot(const std::filesystem::path& root, const std::string& repo,
                                              const std::string& revision);

// Links snapshots/<commit>/<path> to blobs/<etag> with a relative target
// (as huggingface_hub does: the cache can move). Replaces an existing link.
Status link_snapshot_file(const RepoCache& c, const std::string& commit, const std::string& path,
                          const std::string& etag);

}  // namespace dsv3::hub
