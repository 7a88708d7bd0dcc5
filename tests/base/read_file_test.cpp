// read_file: a file's bytes exactly, errors that name the path, and what is
// not a regular file (a directory, a pipe, /proc).
#include "base/read_file.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/fifo_writer.h"
#include "support/temp_dir.h"

namespace dsv3::test {
namespace {

bool mentions(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(ReadFile, BytesExactlyAsWritten) {
  TempDir d;
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += "\r\n\x1a\n";  // no newline or end-of-file translation
  write_file(d.file("f"), bytes);
  auto r = dsv3::read_file(d.file("f"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, bytes);
}

TEST(ReadFile, LargeFile) {
  TempDir d;
  std::string bytes(std::size_t{3} << 20, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file(d.file("big"), bytes);
  auto r = dsv3::read_file(d.file("big"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), bytes.size());
  EXPECT_TRUE(*r == bytes);
}

TEST(ReadFile, EmptyFileIsEmptyNotAnError) {
  TempDir d;
  write_file(d.file("empty"), "");
  auto r = dsv3::read_file(d.file("empty"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, "");
}

TEST(ReadFile, MissingFileNamesThePath) {
  TempDir d;
  auto r = dsv3::read_file(d.file("missing.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r.error().message, d.file("missing.json"))) << r.error().message;
  EXPECT_TRUE(mentions(r.error().message, "cannot open")) << r.error().message;
}

// A directory is an error, not an empty file (a model path given where a file
// was meant must not read as an empty config).
TEST(ReadFile, DirectoryIsAnError) {
  TempDir d;
  auto r = dsv3::read_file(d.path().string());
  ASSERT_FALSE(r.ok()) << "read " << r->size() << " bytes from a directory";
  EXPECT_TRUE(mentions(r.error().message, d.path().string())) << r.error().message;
}

// What a shell's process substitution passes (--messages <(...)): a pipe,
// read to its end.
TEST(ReadFile, PipeIsReadToItsEnd) {
  TempDir d;
  const std::string path = d.file("pipe");
  ASSERT_TRUE(make_fifo(path));
  std::string bytes;
  for (int i = 0; i < 100000; ++i) bytes += static_cast<char>('a' + i % 26);  // more than a pipe buffer
  bool written = false;
  std::thread writer([&] { written = write_fifo_when_read(path, bytes); });
  auto r = dsv3::read_file(path);
  writer.join();
  EXPECT_TRUE(written);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), bytes.size());
  EXPECT_TRUE(*r == bytes);
}

// Files whose size stat reports as 0 but that have contents.
TEST(ReadFile, ProcFilesAreReadByContentNotBySize) {
  auto r = dsv3::read_file("/proc/self/status");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(mentions(*r, "Name:")) << *r;
}

// read_regular_file: the model-directory reader. It reads what read_file
// reads from regular files, and refuses a pipe, a device or a directory at
// once, naming the path: a FIFO planted where config.json should be must not
// hang the loader waiting for a writer.
TEST(ReadRegularFile, RegularFilesAsReadFileReadsThem) {
  TempDir d;
  std::string bytes(std::size_t{200000}, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + (i >> 9));
  write_file(d.file("f"), bytes);
  write_file(d.file("empty"), "");
  auto r = dsv3::read_regular_file(d.file("f"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(*r == bytes);
  auto e = dsv3::read_regular_file(d.file("empty"));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(*e, "");
  auto proc = dsv3::read_regular_file("/proc/self/status");  // size 0 by stat, bytes by read
  ASSERT_TRUE(proc.ok()) << proc.error().message;
  EXPECT_TRUE(mentions(*proc, "Name:"));
  auto missing = dsv3::read_regular_file(d.file("missing.json"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(mentions(missing.error().message, d.file("missing.json"))) << missing.error().message;
}

TEST(ReadRegularFile, FifoIsRefusedWithoutAWriter) {
  TempDir d;
  const std::string path = d.file("config.json");
  ASSERT_TRUE(make_fifo(path));
  auto r = call_beside_fifo(path, [&] { return dsv3::read_regular_file(path); });
  ASSERT_FALSE(r.ok()) << "read " << r->size() << " bytes from a FIFO";
  EXPECT_TRUE(mentions(r.error().message, path + ": not a regular file")) << r.error().message;
}

TEST(ReadRegularFile, DirectoryAndDeviceAreRefused) {
  TempDir d;
  for (const std::string& path : {d.path().string(), std::string("/dev/null")}) {
    auto r = dsv3::read_regular_file(path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_TRUE(mentions(r.error().message, path + ": not a regular file")) << r.error().message;
  }
}

}  // namespace
}  // namespace dsv3::test
