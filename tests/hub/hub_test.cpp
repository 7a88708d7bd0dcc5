// The hub cache's layout (as huggingface_hub writes it), the hub's file list
// parsed and checked, sha256, and the GGUF quant patterns. Downloads are
// tested against a mock hub in tests/e2e/pull.test.mjs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hub/cache_layout.h"
#include "hub/hub_client.h"
#include "hub/pull.h"
#include "support/temp_dir.h"

namespace dsv3::hub {
namespace {

namespace fs = std::filesystem;

TEST(HubCache, RepoIdsAreOrgSlashName) {
  EXPECT_TRUE(check_repo_id("deepseek-ai/DeepSeek-V3").ok());
  EXPECT_TRUE(check_repo_id("unsloth/DeepSeek-R1-GGUF").ok());
  for (const char* bad : {"DeepSeek-V3", "/x", "a/", "a/b/c", "a/b c", "a/..", "../b", "a/b;rm"})
    EXPECT_FALSE(check_repo_id(bad).ok()) << bad;
}

TEST(HubCache, LayoutIsHuggingFaceHubs) {
  const RepoCache c = repo_cache("/cache/hub", "deepseek-ai/DeepSeek-V3");
  EXPECT_EQ(c.dir, fs::path("/cache/hub/models--deepseek-ai--DeepSeek-V3"));
  EXPECT_EQ(c.blob("ab12"), fs::path("/cache/hub/models--deepseek-ai--DeepSeek-V3/blobs/ab12"));
  EXPECT_EQ(c.snapshot("c0ffee"), fs::path("/cache/hub/models--deepseek-ai--DeepSeek-V3/snapshots/c0ffee"));
  EXPECT_EQ(c.ref("main"), fs::path("/cache/hub/models--deepseek-ai--DeepSeek-V3/refs/main"));
}

TEST(HubCache, RootFollowsTheEnvironment) {
  setenv("HF_HUB_CACHE", "/x/hub-cache", 1);
  EXPECT_EQ(cache_root(), fs::path("/x/hub-cache"));
  unsetenv("HF_HUB_CACHE");
  setenv("HF_HOME", "/y/hf", 1);
  EXPECT_EQ(cache_root(), fs::path("/y/hf/hub"));
  unsetenv("HF_HOME");
}

TEST(HubCache, SnapshotLinksAreRelativeAndResolveThroughRefs) {
  test::TempDir d;
  const RepoCache c = repo_cache(d.path(), "org/name");
  fs::create_directories(c.blob("aa").parent_path());
  std::ofstream(c.blob("aa")) << "bytes";
  ASSERT_TRUE(link_snapshot_file(c, "c0ffee", "sub/dir/file.txt", "aa").ok());
  const fs::path link = c.snapshot("c0ffee") / "sub/dir/file.txt";
  ASSERT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::read_symlink(link).is_relative());
  EXPECT_EQ(fs::canonical(link), fs::canonical(c.blob("aa")));
  EXPECT_FALSE(cached_snapshot(d.path(), "org/name", "main").ok());  // no ref yet
  fs::create_directories(c.ref("main").parent_path());
  std::ofstream(c.ref("main")) << "c0ffee";
  auto snap = cached_snapshot(d.path(), "org/name", "main");
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(*snap, c.snapshot("c0ffee"));
  EXPECT_TRUE(cached_snapshot(d.path(), "org/name", "c0ffee").ok());  // a commit names itself
  auto missing = cached_snapshot(d.path(), "org/other", "main");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("dsv3 pull org/other"), std::string::npos);
}

TEST(HubApi, ParsesFilesWithLfsAndGitBlobs) {
  const std::string json = R"({"id": "org/name", "sha": "0123abcd", "siblings": [
    {"rfilename": "config.json", "blobId": "8f1e", "size": 120},
    {"rfilename": "model.safetensors", "blobId": "77aa", "size": 999,
     "lfs": {"sha256": "e3b0c442", "size": 1000, "pointerSize": 134}}]})";
  auto info = parse_repo_info(json, "org/name");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->commit, "0123abcd");
  ASSERT_EQ(info->files.size(), 2u);
  EXPECT_EQ(info->files[0].etag, "8f1e");
  EXPECT_TRUE(info->files[0].sha256.empty());
  EXPECT_EQ(info->files[1].etag, "e3b0c442");  // LFS: the blob is named by its sha256
  EXPECT_EQ(info->files[1].size, 1000);
}

TEST(HubApi, RefusesAnswersThatCouldEscapeOrLie) {
  const auto bad = [](const std::string& siblings, const std::string& sha = "\"ab\"") {
    return parse_repo_info("{\"sha\": " + sha + ", \"siblings\": [" + siblings + "]}", "o/n");
  };
  EXPECT_FALSE(bad(R"({"rfilename": "../../etc/passwd", "blobId": "ab", "size": 1})").ok());
  EXPECT_FALSE(bad(R"({"rfilename": "/abs", "blobId": "ab", "size": 1})").ok());
  EXPECT_FALSE(bad(R"({"rfilename": "x", "blobId": "../zz", "size": 1})").ok());
  EXPECT_FALSE(bad(R"({"rfilename": "x", "blobId": "ab"})").ok());  // no size
  EXPECT_FALSE(bad(R"({"blobId": "ab", "size": 1})").ok());
  EXPECT_FALSE(bad("", "\"not hex!\"").ok());
  EXPECT_FALSE(parse_repo_info("[]", "o/n").ok());
  EXPECT_FALSE(parse_repo_info("{\"siblings\": []}", "o/n").ok());  // no commit
}

TEST(HubApi, ResolveUrlEscapesEachSegment) {
  HubOptions o;
  o.endpoint = "http://mirror";
  EXPECT_EQ(resolve_url(o, "org/name", "abc", "dir/a b.json"), "http://mirror/org/name/resolve/abc/dir/a%20b.json");
}

TEST(HubApi, Sha256OfAFile) {
  test::TempDir d;
  std::ofstream(d.file("abc")) << "abc";
  auto s = sha256_of_file(d.file("abc"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HubPull, QuantPatternsMatchEitherCase) {
  const auto p = gguf_quant_patterns("q4_k_m");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "*Q4_K_M*.gguf");
  EXPECT_EQ(p[1], "*q4_k_m*.gguf");
}

TEST(HubPull, OfflineUsesTheCacheOnly) {
  test::TempDir d;
  setenv("HF_HUB_OFFLINE", "1", 1);
  PullOptions o;
  o.repo = "org/name";
  HubOptions h;
  h.endpoint = "http://127.0.0.1:1";  // nothing listens: any request would fail differently
  auto r = pull(h, d.path(), o);
  unsetenv("HF_HUB_OFFLINE");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is not in the cache"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace dsv3::hub
