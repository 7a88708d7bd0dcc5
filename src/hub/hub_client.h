// The Hugging Face hub's HTTP API over libcurl: which files a repository
// has at a revision (with their sizes and LFS sha256s), and downloading one
// into a partial file that a later attempt resumes (HTTP Range).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsv3::hub {

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT (a mirror)
  std::string token;                                 // HF_TOKEN: sent as a bearer token
};
// HF_ENDPOINT and HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) from the environment.
HubOptions hub_options_from_env();
// HF_HUB_OFFLINE=1 (or true/yes): no network, the cache alone.
bool hub_offline();

struct RepoFile {
  std::string path;    // inside the repository
  int64_t size = -1;
  std::string etag;    // the blob's name in the cache: the LFS sha256, else the git blob id
  std::string sha256;  // LFS files: what the bytes must hash to (else empty)
};
struct RepoInfo {
  std::string commit;
  std::vector<RepoFile> files;
};

// GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true
Result<RepoInfo> fetch_repo_info(const HubOptions& o, const std::string& repo, const std::string& revision);
// Parses that endpoint's JSON (for tests and the fuzz target).
Result<RepoInfo> parse_repo_info(const std::string& json, const std::string& repo);

// {endpoint}/{repo}/resolve/{commit}/{path}, each path segment escaped.
std::string resolve_url(const HubOptions& o, const std::string& repo, const std::string& commit, const std::string& path);

// Downloads url into `partial`, continuing from the bytes already there.
// progress(bytes in the file so far) is called as data arrives. A cut
// connection is an error; calling again resumes.
Status download_to(const HubOptions& o, const std::string& url, const std::filesystem::path& partial,
                   const std::function<void(int64_t)>& progress);

// sha256 of a file, lowercase hex.
Result<std::string> sha256_of_file(const std::filesystem::path& path);

}  // namespace dsv3::hub
