#include "hub/hub_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

namespace dsv3::hub {

namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Curl = std::unique_ptr<CURL, CurlDeleter>;
using Headers = std::unique_ptr<curl_slist, ListDeleter>;

// A handle with what every request shares: redirects, time-outs, the token.
Result<Curl> make_handle(const HubOptions& o, const std::string& url, Headers& headers) {
  init_curl_once();
  Curl c(curl_easy_init());
  if (!c) return make_error("cannot start libcurl");
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 1L);  // the hub redirects LFS files to its CDN
  curl_easy_setopt(c.get(), CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT, 30L);
  // a transfer that moves nothing for a minute is cut (and resumed by the caller)
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c.get(), CURLOPT_USERAGENT, "dsv3");
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  curl_slist* list = nullptr;
  // a custom Authorization header is not sent on to another host after a redirect (curl >= 7.58)
  if (!o.token.empty()) list = curl_slist_append(list, ("Authorization: Bearer " + o.token).c_str());
  headers.reset(list);
  if (list) curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, list);
  return c;
}

std::string http_error(long code, const std::string& url, const std::string& body) {
  std::string hint;
  if (code == 401 || code == 403) hint = " (a gated or private repository: set HF_TOKEN to an access token)";
  else if (code == 404) hint = " (no such repository, revision or file)";
  std::string detail;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) detail = ": " + j["error"].get<std::string>();
  return fmt::format("{}: HTTP {}{}{}", url, code, detail, hint);
}

size_t append_to_string(char* p, size_t size, size_t n, void* s) {
  static_cast<std::string*>(s)->append(p, size * n);
  return size * n;
}

bool truthy(const char* v) {
  if (v == nullptr) return false;
  const std::string s = v;
  return s == "1" || s == "true" || s == "TRUE" || s == "yes" || s == "on";
}

}  // namespace

HubOptions hub_options_from_env() {
  HubOptions o;
  if (const char* e = std::getenv("HF_ENDPOINT"); e != nullptr && *e != '\0') {
    o.endpoint = e;
    while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  }
  if (const char* t = std::getenv("HF_TOKEN"); t != nullptr && *t != '\0') o.token = t;
  else if (const char* t2 = std::getenv("HUGGING_FACE_HUB_TOKEN"); t2 != nullptr && *t2 != '\0') o.token = t2;
  return o;
}

bool hub_offline() { return truthy(std::getenv("HF_HUB_OFFLINE")); }

Result<RepoInfo> parse_repo_info(const std::string& text, const std::string& repo) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("{}: the hub's answer is not a JSON object", repo);
  RepoInfo info;
  if (!j.contains("sha") || !j["sha"].is_string() || j["sha"].get<std::string>().empty())
    return make_error("{}: the hub's answer has no commit (\"sha\")", repo);
  info.commit = j["sha"];
  for (char ch : info.commit)
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return make_error("{}: commit '{}' is not hexadecimal", repo, info.commit);
  if (!j.contains("siblings") || !j["siblings"].is_array()) return make_error("{}: the hub's answer lists no files", repo);
  for (const auto& s : j["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string())
      return make_error("{}: a file entry without \"rfilename\"", repo);
    RepoFile f;
    f.path = s["rfilename"];
    // a path that could leave the snapshot directory is refused
    if (f.path.empty() || f.path[0] == '/' || f.path.find("..") != std::string::npos || f.path.find('\\') != std::string::npos)
      return make_error("{}: file name '{}' is not a safe relative path", repo, f.path);
    if (s.contains("size") && s["size"].is_number_integer()) f.size = s["size"];
    if (s.contains("lfs") && s["lfs"].is_object()) {
      const auto& l = s["lfs"];
      if (!l.contains("sha256") || !l["sha256"].is_string()) return make_error("{}: {}: LFS entry without sha256", repo, f.path);
      f.sha256 = l["sha256"];
      if (l.contains("size") && l["size"].is_number_integer()) f.size = l["size"];
      f.etag = f.sha256;
    } else if (s.contains("blobId") && s["blobId"].is_string()) {
      f.etag = s["blobId"];
    }
    if (f.etag.empty() || f.etag.size() > 128) return make_error("{}: {}: no blob id", repo, f.path);
    for (char ch : f.etag)
      if (!std::isxdigit(static_cast<unsigned char>(ch))) return make_error("{}: {}: blob id '{}' is not hexadecimal", repo, f.path, f.etag);
    if (f.size < 0) return make_error("{}: {}: no size", repo, f.path);
    info.files.push_back(std::move(f));
  }
  return info;
}

Result<RepoInfo> fetch_repo_info(const HubOptions& o, const std::string& repo, const std::string& revision) {
  Headers headers;
  char* esc_rev = curl_easy_escape(nullptr, revision.c_str(), static_cast<int>(revision.size()));
  const std::string url = o.endpoint + "/api/models/" + repo + "/revision/" + (esc_rev ? esc_rev : "") + "?blobs=true";
  curl_free(esc_rev);
  DSV3_ASSIGN_OR_RETURN(Curl c, make_handle(o, url, headers));
  std::string body;
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, 120L);
  const CURLcode rc = curl_easy_perform(c.get());
  if (rc != CURLE_OK) return make_error("{}: {}", url, curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) return make_error("{}", http_error(code, url, body));
  return parse_repo_info(body, repo);
}

std::string resolve_url(const HubOptions& o, const std::string& repo, const std::string& commit, const std::string& path) {
  std::string escaped;
  std::size_t at = 0;
  while (at <= path.size()) {
    const std::size_t slash = std::min(path.find('/', at), path.size());
    const std::string seg = path.substr(at, slash - at);
    char* e = curl_easy_escape(nullptr, seg.c_str(), static_cast<int>(seg.size()));
    escaped += (escaped.empty() ? "" : "/") + std::string(e ? e : "");
    curl_free(e);
    at = slash + 1;
  }
  return o.endpoint + "/" + repo + "/resolve/" + commit + "/" + escaped;
}

namespace {

struct Sink {
  std::ofstream* out;
  int64_t have;  // bytes in the file
  long status = 0;
  bool started = false;
  CURL* curl;
  const std::function<void(int64_t)>* progress;
  std::string error_body;
};

size_t write_file(char* p, size_t size, size_t n, void* ctx) {
  auto* s = static_cast<Sink*>(ctx);
  const size_t bytes = size * n;
  if (!s->started) {
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    s->started = true;
  }
  if (s->status >= 400) {  // keep the error's body for the message, not in the file
    if (s->error_body.size() < 4096) s->error_body.append(p, bytes);
    return bytes;
  }
  s->out->write(p, static_cast<std::streamsize>(bytes));
  if (!*s->out) return 0;  // a full disk: curl stops with a write error
  s->have += static_cast<int64_t>(bytes);
  if (*s->progress) (*s->progress)(s->have);
  return bytes;
}

}  // namespace

Status download_to(const HubOptions& o, const std::string& url, const std::filesystem::path& partial,
                   const std::function<void(int64_t)>& progress) {
  std::error_code ec;
  int64_t have = std::filesystem::exists(partial, ec) ? static_cast<int64_t>(std::filesystem::file_size(partial, ec)) : 0;
  if (ec) have = 0;
  Headers headers;
  DSV3_ASSIGN_OR_RETURN(Curl c, make_handle(o, url, headers));
  // the server may ignore the range (200): then the file starts over
  std::ofstream out;
  Sink sink{&out, have, 0, false, c.get(), &progress, {}};
  if (have > 0) curl_easy_setopt(c.get(), CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(have));
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, write_file);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &sink);
  out.open(partial, std::ios::binary | std::ios::app);
  if (!out) return make_error("{}: cannot write it", partial.string());
  CURLcode rc = curl_easy_perform(c.get());
  long code = sink.status;
  if (code == 0) curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  if (code == 416 && have > 0) return {};  // the partial file is already whole
  if (code >= 400) return make_error("{}", http_error(code, url, sink.error_body));
  if (have > 0 && code == 200) {
    // the whole file came instead of the rest: what was appended is a second copy
    out.close();
    std::filesystem::resize_file(partial, 0, ec);
    return make_error("{}: the server ignored the resume request; starting this file over", url);
  }
  if (rc != CURLE_OK) return make_error("{}: {} after {} bytes", url, curl_easy_strerror(rc), sink.have);
  out.close();
  if (!out) return make_error("{}: cannot write it", partial.string());
  return {};
}

Result<std::string> sha256_of_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("{}: cannot read it", path.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return make_error("sha256: OpenSSL failed");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

}  // namespace dsv3::hub
