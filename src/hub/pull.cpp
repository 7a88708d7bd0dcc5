#include "hub/pull.h"

#include <fnmatch.h>

#include <algorithm>
#include <fstream>

#include "hub/cache_layout.h"

namespace dsv3::hub {

namespace fs = std::filesystem;

std::vector<std::string> gguf_quant_patterns(const std::string& quant) {
  std::string lower, upper;
  for (char ch : quant) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return {"*" + upper + "*.gguf", "*" + lower + "*.gguf"};
}

namespace {

bool wanted(const std::string& path, const std::vector<std::string>& include) {
  if (include.empty()) return true;
  for (const std::string& p : include)
    if (fnmatch(p.c_str(), path.c_str(), 0) == 0) return true;
  return false;
}

// One file into blobs/<etag>: resumed attempts, then its size and sha256.
Status fetch_blob(const HubOptions& hub, const RepoCache& c, const std::string& repo, const std::string& commit,
                  const RepoFile& f, int attempts, const std::function<void(int64_t)>& progress) {
  const fs::path blob = c.blob(f.etag), partial = fs::path(blob.string() + ".incomplete");
  std::error_code ec;
  if (fs::exists(blob, ec) && static_cast<int64_t>(fs::file_size(blob, ec)) == f.size) return {};  // have it
  fs::create_directories(blob.parent_path(), ec);
  if (ec) return make_error("{}: cannot create it: {}", blob.parent_path().string(), ec.message());
  const std::string url = resolve_url(hub, repo, commit, f.path);
  const auto size_of = [&](const fs::path& p) {
    std::error_code e;
    return fs::exists(p, e) ? static_cast<int64_t>(fs::file_size(p, e)) : int64_t{0};
  };
  Status last;
  for (int a = 0; a < attempts; ++a) {
    if (size_of(partial) > f.size) fs::remove(partial, ec);  // not this file: start over
    last = download_to(hub, url, partial, progress);
    if (!last.ok() && last.error().message.find("HTTP 4") != std::string::npos) return last;  // not worth retrying
    const int64_t got = size_of(partial);
    if (last.ok() && got == f.size) break;
    // a transfer that ended early (a cut connection, however it was reported) resumes
    if (last.ok())
      last = make_error("{}: the transfer ended after {} of {} bytes", f.path, got, f.size);
  }
  if (!last.ok()) return make_error("{} (after {} attempts; run again to resume)", last.error().message, attempts);
  if (!f.sha256.empty()) {
    DSV3_ASSIGN_OR_RETURN(const std::string sum, sha256_of_file(partial));
    if (sum != f.sha256) {
      fs::remove(partial, ec);  // corrupt: the next attempt starts over
      return make_error("{}: sha256 {} does not match the hub's {}: the download is corrupt and was deleted", f.path,
                        sum, f.sha256);
    }
  }
  fs::rename(partial, blob, ec);
  if (ec) return make_error("{}: cannot rename to {}: {}", partial.string(), blob.string(), ec.message());
  return {};
}

}  // namespace

Result<fs::path> pull(const HubOptions& hub, const fs::path& root, const PullOptions& o,
                      const std::function<void(const PullProgress&)>& progress) {
  DSV3_RETURN_IF_ERROR(check_repo_id(o.repo));
  if (o.revision.empty() || o.revision.find("..") != std::string::npos || o.revision[0] == '/')
    return make_error("--revision '{}' is not a branch, tag or commit", o.revision);
  if (hub_offline()) return cached_snapshot(root, o.repo, o.revision);
  DSV3_ASSIGN_OR_RETURN(const RepoInfo info, fetch_repo_info(hub, o.repo, o.revision));
  std::vector<RepoFile> files;
  for (const RepoFile& f : info.files)
    if (wanted(f.path, o.include)) files.push_back(f);
  if (files.empty())
    return make_error("{}: no file matches {} (the repository has {} files)", o.repo,
                      o.include.empty() ? std::string("anything") : fmt::format("{}", fmt::join(o.include, " ")),
                      info.files.size());
  const RepoCache c = repo_cache(root, o.repo);
  PullProgress p;
  p.count = static_cast<int>(files.size());
  for (const RepoFile& f : files) p.total_size += f.size;
  int64_t before = 0;
  for (const RepoFile& f : files) {
    p.file = f.path;
    p.file_size = f.size;
    p.index += 1;
    const auto on_bytes = [&](int64_t done) {
      p.file_done = done;
      p.total_done = before + done;
      if (progress) progress(p);
    };
    DSV3_RETURN_IF_ERROR(fetch_blob(hub, c, o.repo, info.commit, f, std::max(1, o.attempts), on_bytes));
    DSV3_RETURN_IF_ERROR(link_snapshot_file(c, info.commit, f.path, f.etag));
    before += f.size;
    on_bytes(f.size);
  }
  // the revision's name points at the commit (as huggingface_hub records it)
  if (o.revision != info.commit) {
    std::error_code ec;
    fs::create_directories(c.ref(o.revision).parent_path(), ec);
    std::ofstream ref(c.ref(o.revision), std::ios::trunc);
    ref << info.commit;
    if (!ref) return make_error("{}: cannot write it", c.ref(o.revision).string());
  }
  return c.snapshot(info.commit);
}

}  // namespace dsv3::hub
