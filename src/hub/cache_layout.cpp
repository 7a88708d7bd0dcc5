#include "hub/cache_layout.h"

#include <cstdlib>
#include <fstream>

namespace dsv3::hub {

namespace fs = std::filesystem;

fs::path cache_root() {
  if (const char* c = std::getenv("HF_HUB_CACHE"); c != nullptr && *c != '\0') return c;
  if (const char* h = std::getenv("HF_HOME"); h != nullptr && *h != '\0') return fs::path(h) / "hub";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') return fs::path(x) / "huggingface" / "hub";
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : ".") / ".cache" / "huggingface" / "hub";
}

Status check_repo_id(const std::string& repo) {
  const auto slash = repo.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == repo.size() || repo.find('/', slash + 1) != std::string::npos)
    return make_error("'{}' is not a repository id (ORG/NAME, e.g. deepseek-ai/DeepSeek-V3)", repo);
  for (char ch : repo) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '_' || ch == '.' || ch == '/';
    if (!ok) return make_error("'{}' is not a repository id: character '{}' is not allowed", repo, ch);
  }
  if (repo.find("..") != std::string::npos) return make_error("'{}' is not a repository id: '..' is not allowed", repo);
  return {};
}

RepoCache repo_cache(const fs::path& root, const std::string& repo) {
  std::string name = "models--" + repo;
  for (std::size_t at = name.find('/'); at != std::string::npos; at = name.find('/', at)) name.replace(at, 1, "--");
  return {root / name};
}

Result<fs::path> cached_snapshot(const fs::path& root, const std::string& repo, const std::string& revision) {
  DSV3_RETURN_IF_ERROR(check_repo_id(repo));
  const RepoCache c = repo_cache(root, repo);
  std::string commit = revision;
  std::error_code ec;
  if (fs::is_regular_file(c.ref(revision), ec)) {
    std::ifstream in(c.ref(revision));
    std::getline(in, commit);
  }
  const fs::path snap = c.snapshot(commit);
  if (commit.empty() || !fs::is_directory(snap, ec))
    return make_error("{} (revision {}) is not in the cache {}: run dsv3 pull {} first", repo, revision, root.string(), repo);
  return snap;
}

Status link_snapshot_file(const RepoCache& c, const std::string& commit, const std::string& path,
                          const std::string& etag) {
  const fs::path link = c.snapshot(commit) / path;
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  if (ec) return make_error("{}: cannot create it: {}", link.parent_path().string(), ec.message());
  const fs::path target = fs::relative(c.blob(etag), link.parent_path(), ec);
  if (ec) return make_error("{}: cannot link to {}: {}", link.string(), c.blob(etag).string(), ec.message());
  fs::remove(link, ec);
  fs::create_symlink(target, link, ec);
  if (ec) return make_error("{}: cannot create the link: {}", link.string(), ec.message());
  return {};
}

}  // namespace dsv3::hub
