// Every kind of corrupt safetensors file is an error naming the file and the
// tensor, never a crash or a read outside the mapping.
#include <gtest/gtest.h>

#include <cstring>

#include "model/safetensors.h"
#include "support/temp_dir.h"

namespace dsv3::test {
namespace {

std::string image(const std::string& header, const std::string& data, int64_t claimed_len = -1) {
  const uint64_t len = claimed_len >= 0 ? static_cast<uint64_t>(claimed_len) : header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &len, 8);
  return out + header + data;
}

class SafetensorsErrors : public testing::Test {
 protected:
  Error open_error(const std::string& bytes) {
    const std::string path = dir_.file("x.safetensors");
    write_file(path, bytes);
    auto r = SafetensorsFile::open(path);
    EXPECT_FALSE(r.ok()) << "expected an error";
    if (r.ok()) return Error{""};
    EXPECT_NE(r.error().message.find(path), std::string::npos) << "no file name in: " << r.error().message;
    return r.error();
  }
  TempDir dir_;
};

bool mentions(const Error& e, const std::string& what) { return e.message.find(what) != std::string::npos; }

TEST_F(SafetensorsErrors, ValidFileParses) {
  const std::string data(16, '\x01');
  const std::string path = dir_.file("ok.safetensors");
  write_file(path, image(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", data));
  auto r = SafetensorsFile::open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const TensorView* a = r->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a->nbytes, 16u);
}

TEST_F(SafetensorsErrors, TooShortForHeaderLength) {
  EXPECT_TRUE(mentions(open_error("abc"), "truncated"));
}

TEST_F(SafetensorsErrors, EmptyFile) { EXPECT_TRUE(mentions(open_error(""), "truncated")); }

TEST_F(SafetensorsErrors, HeaderLengthPastEnd) {
  EXPECT_TRUE(mentions(open_error(image("{}", "", 1000)), "past the end"));
}

TEST_F(SafetensorsErrors, HugeHeaderLength) {
  EXPECT_TRUE(mentions(open_error(image("{}", "", int64_t{1} << 62)), "past the end"));
}

TEST_F(SafetensorsErrors, MalformedJson) {
  EXPECT_TRUE(mentions(open_error(image(R"({"a": {"dtype": "F32", )", "")), "not valid JSON"));
}

TEST_F(SafetensorsErrors, HeaderNotAnObject) { EXPECT_TRUE(mentions(open_error(image("[1,2]", "")), "not a JSON object")); }

TEST_F(SafetensorsErrors, EntryMissingFields) {
  EXPECT_TRUE(mentions(open_error(image(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "abcd")), "w: missing dtype"));
  EXPECT_TRUE(mentions(open_error(image(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "abcd")), "w: missing shape"));
  EXPECT_TRUE(mentions(open_error(image(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd")), "w: data_offsets"));
  EXPECT_TRUE(mentions(open_error(image(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd")),
                       "w: shape"));
}

TEST_F(SafetensorsErrors, DataOffsetsOutsideFile) {
  const Error e = open_error(image(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"));
  EXPECT_TRUE(mentions(e, "tensor w")) << e.message;
  EXPECT_TRUE(mentions(e, "outside the data section")) << e.message;
}

TEST_F(SafetensorsErrors, TruncatedData) {
  std::string full = image(R"({"w":{"dtype":"BF16","shape":[8],"data_offsets":[0,16]}})", std::string(16, 'x'));
  full.resize(full.size() - 3);
  EXPECT_TRUE(mentions(open_error(full), "tensor w"));
}

TEST_F(SafetensorsErrors, ReversedOffsets) {
  EXPECT_TRUE(mentions(open_error(image(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", "12345678")),
                       "reversed"));
}

TEST_F(SafetensorsErrors, OverlappingTensors) {
  const Error e = open_error(image(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, 'x')));
  EXPECT_TRUE(mentions(e, "overlaps")) << e.message;
}

TEST_F(SafetensorsErrors, UnknownDtype) {
  const Error e = open_error(image(R"({"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,2]}})", "xx"));
  EXPECT_TRUE(mentions(e, "tensor w")) << e.message;
  EXPECT_TRUE(mentions(e, "unknown dtype \"Q4_K\"")) << e.message;
}

TEST_F(SafetensorsErrors, ByteCountDisagreesWithShape) {
  const Error e = open_error(image(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678"));
  EXPECT_TRUE(mentions(e, "needs 12")) << e.message;
}

TEST_F(SafetensorsErrors, ShapeOverflow) {
  const Error e = open_error(
      image(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", "12345678"));
  EXPECT_TRUE(mentions(e, "too large")) << e.message;
}

TEST_F(SafetensorsErrors, NotAFile) {
  auto r = SafetensorsFile::open(dir_.path().string());
  ASSERT_FALSE(r.ok());
  auto m = SafetensorsFile::open(dir_.file("missing.safetensors"));
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(mentions(m.error(), "cannot open"));
}

TEST(SafetensorsWrite, RoundTrip) {
  TempDir dir;
  const std::vector<float> v{1.5f, -2.0f, 3.25f};
  const std::vector<int32_t> ids{7, 8};
  ASSERT_TRUE(write_safetensors(dir.file("o.safetensors"), {{"v", DType::F32, {3}, v.data()}, {"i", DType::I32, {1, 2}, ids.data()}}).ok());
  auto r = SafetensorsFile::open(dir.file("o.safetensors"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const TensorView* t = r->find("v");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(std::memcmp(t->data, v.data(), 12), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data) % 8, 0u);
  EXPECT_EQ(r->find("i")->shape, (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace dsv3::test
