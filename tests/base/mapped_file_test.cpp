// MappedFile: the bytes of a file in place, errors that name the path, and
// never a hang on something that is not a regular file.
#include "base/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "base/fifo_writer.h"
#include "support/temp_dir.h"
#include "support/test_env.h"

namespace dsv3::test {
namespace {

std::string view_of(const MappedFile& f) {
  return f.size() == 0 ? std::string() : std::string(reinterpret_cast<const char*>(f.data()), f.size());
}

// Bytes that differ at every offset in a way a shifted or truncated read shows.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x >> 56);
  }
  return s;
}

bool mentions(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(MappedFile, HoldsWhatWasWritten) {
  TempDir d;
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);  // NULs and high bytes, no text conversion
  bytes += "\r\n\n\r";
  write_file(d.file("f"), bytes);
  auto f = MappedFile::open(d.file("f"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->size(), bytes.size());
  EXPECT_EQ(view_of(*f), bytes);
  EXPECT_EQ(f->path(), d.file("f"));
}

TEST(MappedFile, LargeFileAtEveryPageBoundary) {
  TempDir d;
  const std::size_t n = (std::size_t{8} << 20) + 4097;  // 8 MiB and a page and a byte: not a page multiple
  const std::string bytes = pattern(n);
  write_file(d.file("big"), bytes);
  auto f = MappedFile::open(d.file("big"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), n);
  const char* p = reinterpret_cast<const char*>(f->data());
  for (std::size_t at = 0; at < n; at += 4096) {
    ASSERT_EQ(p[at], bytes[at]) << "offset " << at;
    if (at > 0) {
      ASSERT_EQ(p[at - 1], bytes[at - 1]) << "offset " << at - 1;
    }
  }
  EXPECT_EQ(p[n - 1], bytes[n - 1]);
  EXPECT_EQ(std::memcmp(p, bytes.data(), n), 0);
}

TEST(MappedFile, EmptyFileIsEmptyNotAnError) {
  TempDir d;
  write_file(d.file("empty"), "");
  auto f = MappedFile::open(d.file("empty"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->size(), 0u);
}

TEST(MappedFile, MissingFileNamesThePath) {
  TempDir d;
  auto f = MappedFile::open(d.file("nope"));
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(mentions(f.error().message, d.file("nope"))) << f.error().message;
  EXPECT_TRUE(mentions(f.error().message, "cannot open")) << f.error().message;
}

TEST(MappedFile, DirectoryIsRefused) {
  TempDir d;
  auto f = MappedFile::open(d.path().string());
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(mentions(f.error().message, d.path().string())) << f.error().message;
  EXPECT_TRUE(mentions(f.error().message, "not a regular file")) << f.error().message;
}

// Opening a FIFO for reading blocks until a writer comes; a weights path that
// names one must be refused at once, not hang the loader.
TEST(MappedFile, FifoIsRefusedWithoutAWriter) {
  TempDir d;
  const std::string path = d.file("pipe");
  ASSERT_TRUE(make_fifo(path));
  auto f = call_beside_fifo(path, [&] { return MappedFile::open(path); });
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(mentions(f.error().message, "not a regular file")) << f.error().message;
}

TEST(MappedFile, MovesOwnershipAndOutlivesTheFile) {
  TempDir d;
  const std::string bytes = pattern(10000);
  write_file(d.file("f"), bytes);
  write_file(d.file("g"), "other");
  auto r = MappedFile::open(d.file("f"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  MappedFile a = std::move(r).value();
  const std::byte* where = a.data();
  // the mapping keeps the bytes after the file is gone
  std::filesystem::remove(d.file("f"));
  MappedFile b(std::move(a));
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(view_of(b), bytes);
  auto g = MappedFile::open(d.file("g"));
  ASSERT_TRUE(g.ok());
  b = std::move(g).value();  // releases the first mapping
  EXPECT_EQ(view_of(b), "other");
  EXPECT_EQ(b.path(), d.file("g"));
  MappedFile& same = b;
  b = std::move(same);  // self-move keeps it
  EXPECT_EQ(view_of(b), "other");
}

}  // namespace
}  // namespace dsv3::test
